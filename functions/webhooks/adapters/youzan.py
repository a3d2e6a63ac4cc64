"""Youzan (有赞) pushes, both generations on one channel.

- Legacy push: the JSON body carries `sign` = hex(MD5(client_id + msg + secret)), with `msg`
  exactly as sent (URL-encoded JSON).
- Cloud push: header `Event-Sign` = hex(MD5(client_id + raw body + secret)).

A request with an `Event-Sign` header is a cloud push, any other a legacy push. Either way
`payload["msg"]` is the decoded object when `msg` holds (URL-encoded) JSON, so field mappings
read `msg.receiver_name`; a `msg` that is not JSON stays the string it was. Youzan sends no
delivery id and increments `send_count` on every retry, so the delivery id is a hash of the
body without its retry counter. A push with `"test": true` (Youzan's check of the push URL)
is a ping. Youzan treats any answer but `{"code":0,"msg":"success"}` as a failure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from .base import (
    ChannelLike,
    Delivery,
    Refusal,
    Request,
    bad_signature,
    channel_value,
    parse_json_object,
    require_secret,
    same,
    shown,
)

SIGNATURE_HEADER = "Event-Sign"
EVENT_TYPE_HEADER = "Event-Type"
SUCCESS_BODY = b'{"code":0,"msg":"success"}'

_RETRY_COUNTERS = frozenset({"send_count", "sendCount"})


def legacy_sign(client_id: str, msg: str, secret: str) -> str:
    """The `sign` field of a legacy push whose `msg` field is `msg` (as sent)."""
    return hashlib.md5((client_id + msg + secret).encode("utf-8", "surrogatepass")).hexdigest()


def cloud_sign(client_id: str, body: bytes, secret: str) -> str:
    """The `Event-Sign` header of a cloud push with this raw body."""
    return hashlib.md5(client_id.encode("utf-8") + body + secret.encode("utf-8")).hexdigest()


def decode_msg(msg: object) -> object:
    """`msg` as an object when it is JSON or URL-encoded JSON, else unchanged."""
    if not isinstance(msg, str):
        return msg
    text = msg.strip()
    candidates = [text] if text[:1] in ("{", "[") else [unquote_plus(text)]
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict | list):
            return value
    return msg


def delivery_id(body: Mapping[str, Any]) -> str:
    """A hash of the push that stays the same when Youzan retries it."""
    stable = {key: value for key, value in body.items() if key not in _RETRY_COUNTERS}
    canonical = json.dumps(stable, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "youzan:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _string_field(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        raise Refusal(
            401,
            "missing_signature",
            f"body field {name!r} is missing (and there is no {SIGNATURE_HEADER} header); "
            "the push cannot be verified",
        )
    if not isinstance(value, str):
        raise Refusal(401, "invalid_signature", f"body field {name!r} is not a string")
    return value


def _delivery(body: dict[str, Any], topic: str | None) -> Delivery:
    payload = dict(body)
    if "msg" in payload:
        payload["msg"] = decode_msg(payload["msg"])
    return Delivery(
        delivery_id=delivery_id(body),
        topic=topic,
        payload=payload,
        is_ping=body.get("test") is True,
    )


def _body_type(body: Mapping[str, Any]) -> str | None:
    value = body.get("type")
    return value if isinstance(value, str) else None


def verify(request: Request, secrets: Mapping[str, str], channel: ChannelLike) -> Delivery:
    secret = require_secret(secrets, "secret")
    client_id = channel_value(channel, "client_id")
    event_sign = request.header(SIGNATURE_HEADER)
    if event_sign is not None:
        if not same(cloud_sign(client_id, request.body, secret), event_sign.lower()):
            raise bad_signature(
                f"header {SIGNATURE_HEADER}", "the MD5 of client_id + body + secret of this channel"
            )
        body = parse_json_object(request.body)
        return _delivery(body, request.header(EVENT_TYPE_HEADER) or _body_type(body))

    body = parse_json_object(request.body)
    sign = _string_field(body, "sign")
    msg = _string_field(body, "msg")
    sent_client_id = body.get("client_id")
    if isinstance(sent_client_id, str) and not same(client_id, sent_client_id):
        raise Refusal(
            401,
            "invalid_signature",
            f"body field 'client_id' ({shown(sent_client_id)}) is not this channel's client_id "
            f"({client_id!r})",
        )
    if not same(legacy_sign(client_id, msg, secret), sign.lower()):
        raise bad_signature("body field 'sign'", "the MD5 of client_id + msg + secret of this channel")
    return _delivery(body, _body_type(body))
