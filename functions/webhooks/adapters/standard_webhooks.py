"""Standard Webhooks (standardwebhooks.com), the scheme a tenant's own systems use.

`webhook-signature` holds one or more space-separated `v1,<base64 signature>` entries (several
during a key rotation; one match is enough), each base64(HMAC-SHA256(key, id + "." + timestamp
+ "." + body)) with key = base64decode(the secret without its `whsec_` prefix). A timestamp more
than five minutes away from now is refused, so a captured delivery cannot be replayed later.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import timedelta

from .base import (
    ChannelLike,
    Delivery,
    Refusal,
    Request,
    bad_signature,
    hmac_sha256_base64,
    missing_header,
    parse_json_object,
    require_secret,
    same,
)

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
TOLERANCE = timedelta(minutes=5)
SECRET_PREFIX = "whsec_"

_HEADERS = (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)
_TIMESTAMP = re.compile(r"\d{1,12}")


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_...` secret (the prefix is optional)."""
    text = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise Refusal(
            401,
            "channel_misconfigured",
            "the channel's 'secret' is not a Standard Webhooks secret ('whsec_' followed by base64)",
        )
    return key


def sign(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """One `webhook-signature` entry (`v1,<base64>`) for this delivery."""
    signed = f"{msg_id}.{timestamp}.".encode("utf-8", "surrogatepass") + body
    return "v1," + hmac_sha256_base64(secret_key(secret), signed)


def _required(request: Request, name: str) -> str:
    value = request.header(name)
    if value is None:
        raise missing_header(name)
    return value


def verify(request: Request, secrets: Mapping[str, str], channel: ChannelLike) -> Delivery:
    secret = require_secret(secrets, "secret")
    msg_id, timestamp, given = (_required(request, name) for name in _HEADERS)
    if not _TIMESTAMP.fullmatch(timestamp):
        raise Refusal(401, "invalid_timestamp", f"header {TIMESTAMP_HEADER} is not a Unix time in seconds")
    skew = abs(request.now.timestamp() - int(timestamp))
    if skew > TOLERANCE.total_seconds():
        raise Refusal(
            401,
            "stale_timestamp",
            f"header {TIMESTAMP_HEADER} is {int(skew)} seconds away from now; at most "
            f"{int(TOLERANCE.total_seconds())} are accepted (a replay, or the sender's clock is wrong)",
        )
    expected = sign(secret, msg_id, timestamp, request.body)
    entries = [entry for entry in given.split() if entry.startswith("v1,")]
    if not entries:
        raise Refusal(401, "invalid_signature", f"header {SIGNATURE_HEADER} has no 'v1,<signature>' entry")
    # Compare every entry (no early exit), so timing does not tell which one matched.
    matches = [same(expected, entry) for entry in entries]
    if not any(matches):
        raise bad_signature(
            f"no v1 entry of header {SIGNATURE_HEADER}",
            "the HMAC-SHA256 of id.timestamp.body with the secret",
        )
    payload = parse_json_object(request.body)
    topic = payload.get("type")
    return Delivery(delivery_id=msg_id, topic=topic if isinstance(topic, str) else None, payload=payload)
