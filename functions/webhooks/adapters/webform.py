"""Web forms: no signature; the body is the ticket's fields, as a browser or a script sends them.

- ``application/json`` (or no content type): a JSON object of field values, as on the wire;
- ``application/x-www-form-urlencoded`` (an HTML ``<form>``'s default): ``name=value`` pairs; a name
  given more than once is a list (multiselect, photos);
- ``multipart/form-data`` (an HTML form with ``enctype="multipart/form-data"``): its text parts, as
  above; file parts are refused (upload photos first and send their keys or URLs).

Values of an HTML form are text: ``form_values`` turns them into the wire types the ticket type's
fields expect (numbers, lists, geo as ``lat,lon``) before the form is validated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from .base import ChannelLike, Delivery, Refusal, Request, body_hash, malformed, parse_json_object

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
_LISTS = ("multiselect", "photos")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def media_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def verify(request: Request, secrets: Mapping[str, str], channel: ChannelLike) -> Delivery:
    media = media_type(request.headers)
    if media in ("", "application/json") or media.endswith("+json"):
        payload = parse_json_object(request.body)
    elif media == FORM:
        payload = _pairs(_decoded(request.body))
    elif media == MULTIPART:
        payload = _multipart(request.headers.get("content-type", ""), request.body)
    else:
        raise Refusal(
            415,
            "unsupported_media_type",
            f"a web form is sent as application/json, {FORM} or {MULTIPART}, not {media[:100]}",
        )
    return Delivery(delivery_id=body_hash(request.body), topic=None, payload=payload)


def _decoded(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise malformed(f"the form is not UTF-8 text: invalid byte at position {exc.start}") from None


def _pairs(text: str) -> dict[str, Any]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=500)
    except ValueError as exc:
        raise malformed(f"the form is not name=value pairs: {exc}") from None
    return _collect(pairs)


def _collect(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in pairs:
        key = name.removesuffix("[]")
        if key in values:
            existing = values[key]
            values[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            values[key] = [value] if name.endswith("[]") else value
    return values


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    if "boundary=" not in content_type:
        raise malformed("a multipart/form-data body needs a boundary in its Content-Type")
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace") + body
    )
    if not message.is_multipart():
        raise malformed("the multipart/form-data body has no parts")
    pairs: list[tuple[str, str]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise malformed("a form part has no name in its Content-Disposition")
        if part.get_filename():
            raise Refusal(
                415,
                "unsupported_media_type",
                f"part '{name}' is a file: upload it first and send its key or URL",
            )
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        pairs.append((name, _decoded(raw)))
    return _collect(pairs)


def form_values(specs: Iterable[Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """An HTML form's text values as the wire types of the fields (unknown names are kept as sent)."""
    typed: dict[str, Any] = dict(values)
    for spec in specs:
        value = values.get(spec.name)
        if value is None:
            continue
        if spec.type in _LISTS and isinstance(value, str):
            typed[spec.name] = [value] if value else []
        elif spec.type == "number" and isinstance(value, str) and _NUMBER.match(value.strip()):
            number = value.strip()
            typed[spec.name] = float(number) if "." in number else int(number)
        elif spec.type == "geo" and isinstance(value, str) and "," in value:
            lat, _, lon = value.partition(",")
            if _NUMBER.match(lat.strip()) and _NUMBER.match(lon.strip()):
                typed[spec.name] = {"lat": float(lat), "lon": float(lon)}
    return typed
