"""What every platform adapter shares: the verified delivery, the refusal, the request and small helpers.

Nothing here talks to AWS: an adapter gets the raw request and the channel's resolved secrets
and either returns a `Delivery` or raises a `Refusal` that says what is wrong without echoing
any secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from shared.errors import DomainError

if TYPE_CHECKING:
    from shared.tenant.models import Channel

MAX_BODY_BYTES = 256 * 1024
"""Largest body accepted (256 KiB); anything bigger is refused with 413 before it is read."""

ChannelLike: TypeAlias = "Channel | Mapping[str, Any] | None"
"""The channel model, or a small mapping with `client_id` / `corp_id` (tests, the local twin)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """A verified, parsed delivery."""

    delivery_id: str
    """The platform's delivery id; for platforms without one, a stable hash of the body."""
    topic: str | None
    """Topic, type or event name that channel rules `when` compare."""
    payload: dict[str, Any]
    """The JSON (or decoded XML) object that the JMESPath field mappings read."""
    is_ping: bool = False
    """A set-up ping (WooCommerce creation ping, Youzan test push, WeCom URL check): 2xx, create nothing."""


class Refusal(DomainError):
    """A delivery that is not accepted: 400 malformed, 401 signature or secret, 413 too large."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class Request:
    """The parts of an HTTP request an adapter reads; header names are lowercase."""

    method: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    now: datetime

    def header(self, name: str) -> str | None:
        """The header's value, or None when it is absent or blank."""
        return self.headers.get(name.lower()) or None


# --------------------------------------------------------------------------- refusals


def missing_header(name: str) -> Refusal:
    return Refusal(401, "missing_signature", f"header {name} is missing; the delivery is not signed")


def bad_signature(where: str, expected: str) -> Refusal:
    return Refusal(
        401,
        "invalid_signature",
        f"{where} does not match {expected}; check that the channel's secret is the one the platform "
        "signs with and that the body reaches us unchanged",
    )


def malformed(message: str) -> Refusal:
    return Refusal(400, "malformed_body", message)


def shown(value: object, limit: int = 60) -> str:
    """`repr(value)`, cut short so that a hostile field cannot flood an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def require_secret(secrets: Mapping[str, str], role: str) -> str:
    """The channel's secret of `role` ("secret", "token", "aes_key"); 401 when it is not configured."""
    value = secrets.get(role)
    if not value:
        raise Refusal(
            401,
            "missing_secret",
            f"the channel has no {role!r} configured, so no delivery can be verified; "
            "store the value under the channel's secret reference",
        )
    return value


def channel_value(channel: ChannelLike, name: str) -> str:
    """A plain setting of the channel (`client_id`, `corp_id`); 401 when the channel lacks it."""
    value = channel.get(name) if isinstance(channel, Mapping) else getattr(channel, name, None)
    if not isinstance(value, str) or not value:
        raise Refusal(
            401,
            "channel_misconfigured",
            f"the channel has no {name!r}, which this platform's signature needs",
        )
    return value


# --------------------------------------------------------------------------- signatures


def _wire(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def same(expected: str, given: str) -> bool:
    """Constant-time comparison of two strings (any characters, so hostile headers cannot crash it)."""
    return hmac.compare_digest(_wire(expected), _wire(given))


def hmac_sha256_base64(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode("ascii")


def body_hmac(secret: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, raw body)): the signature header of Shopify and WooCommerce."""
    return hmac_sha256_base64(secret.encode("utf-8"), body)


@dataclass(frozen=True, slots=True)
class SignedHeaders:
    """Where a platform that signs with `body_hmac` puts the signature, delivery id and topic."""

    signature: str
    delivery_id: str
    topic: str


def body_hmac_delivery(
    request: Request,
    secrets: Mapping[str, str],
    headers: SignedHeaders,
    unsigned: Callable[[Request], Delivery | None] | None = None,
) -> Delivery:
    """A JSON delivery signed with `body_hmac` (Shopify, WooCommerce).

    Its id and topic come from `headers` (without an id header: a hash of the body). A request
    without the signature header is refused unless `unsigned` makes a delivery of it (a ping).
    """
    secret = require_secret(secrets, "secret")
    given = request.header(headers.signature)
    if given is None:
        delivery = unsigned(request) if unsigned is not None else None
        if delivery is None:
            raise missing_header(headers.signature)
        return delivery
    if not same(body_hmac(secret, request.body), given):
        raise bad_signature(
            f"header {headers.signature}", "the HMAC-SHA256 of the body with the channel's secret"
        )
    return Delivery(
        delivery_id=request.header(headers.delivery_id) or body_hash(request.body),
        topic=request.header(headers.topic),
        payload=parse_json_object(request.body),
    )


# --------------------------------------------------------------------------- bodies


def body_hash(body: bytes) -> str:
    """A stable delivery id for platforms that send none."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _kind(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def parse_json_object(body: bytes, what: str = "body") -> dict[str, Any]:
    """The body as a JSON object; 400 saying what failed otherwise."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise malformed(f"{what} is not UTF-8 text: invalid byte at position {exc.start}") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise malformed(f"{what} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise malformed(f"{what} is not usable JSON: it is nested too deeply") from None
    except ValueError as exc:
        raise malformed(f"{what} is not usable JSON: {exc}") from None
    if not isinstance(value, dict):
        raise malformed(f"{what} is not a JSON object: it is {_kind(value)}")
    return value
