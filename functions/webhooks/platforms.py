"""Verification and parsing of webhook deliveries, one adapter per platform (no AWS calls).

The handler calls `verify` with the raw request and the channel's resolved secrets; it gets a
`Delivery` (verified and parsed) or a `Refusal` (400 malformed, 401 signature or secret, 413 too
large) whose message names the header or field at fault and never a secret. `success_body` is
the answer each platform expects once the delivery is stored.

    delivery = verify(channel.platform, secrets={"secret": value}, channel=channel, method="POST",
                      headers=headers, query=query, body=raw_body, now=clock.now())

`secrets` holds the values by role: "secret" (Shopify, WooCommerce, Youzan, Standard Webhooks),
"token" and "aes_key" (WeCom). The platform modules under `functions.webhooks.adapters` also
hold the signing functions, so tests and the demo can produce deliveries the way the platforms do.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from functions.webhooks.adapters import shopify, standard_webhooks, webform, wecom, woocommerce, youzan
from functions.webhooks.adapters.base import MAX_BODY_BYTES, ChannelLike, Delivery, Refusal, Request

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_DELIVERY_ID_BYTES",
    "PLATFORMS",
    "ChannelLike",
    "Delivery",
    "Refusal",
    "success_body",
    "url_check",
    "verify",
]

Adapter = Callable[[Request, Mapping[str, str], ChannelLike], Delivery]

_ADAPTERS: Mapping[str, Adapter] = {
    "shopify": shopify.verify,
    "woocommerce": woocommerce.verify,
    "youzan": youzan.verify,
    "wecom": wecom.verify,
    "webform": webform.verify,
    "standard-webhooks": standard_webhooks.verify,
}
PLATFORMS: tuple[str, ...] = tuple(_ADAPTERS)

MAX_DELIVERY_ID_BYTES = 512
"""Longest delivery id accepted (UTF-8). The id is part of the delivery record's keys, and DynamoDB
refuses a sort key over 1,024 bytes; platforms' ids are far shorter (UUIDs, message ids)."""

_JSON = {"content-type": "application/json"}
_TEXT = {"content-type": "text/plain; charset=utf-8"}


def verify(
    platform: str,
    *,
    secrets: Mapping[str, str],
    channel: ChannelLike,
    method: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> Delivery:
    """Verify and parse one delivery of `platform`; raises `Refusal` when it is not accepted.

    Header names are matched case-insensitively. `now` (aware; naive means UTC) is the instant
    timestamps are checked against (Standard Webhooks accepts five minutes either way).
    `ValueError` for a platform the product does not know (a configuration bug, not a request's).
    """
    adapter = _ADAPTERS.get(platform)
    if adapter is None:
        raise ValueError(f"unknown platform {platform!r}; expected one of {', '.join(PLATFORMS)}")
    if len(body) > MAX_BODY_BYTES:
        raise Refusal(
            413,
            "payload_too_large",
            f"body is {len(body)} bytes; at most {MAX_BODY_BYTES} bytes ({MAX_BODY_BYTES // 1024} KiB) "
            "are accepted",
        )
    request = Request(
        method=method.upper(),
        headers={name.lower(): value.strip() for name, value in headers.items()},
        query=dict(query),
        body=body,
        now=now if now.tzinfo is not None else now.replace(tzinfo=UTC),
    )
    delivery = adapter(request, secrets, channel)
    size = len(delivery.delivery_id.encode("utf-8", "surrogatepass"))
    if size > MAX_DELIVERY_ID_BYTES:
        raise Refusal(
            400,
            "bad_request",
            f"the delivery id (the platform's id header or message id) is {size} bytes; "
            f"at most {MAX_DELIVERY_ID_BYTES} are accepted",
        )
    return delivery


def url_check(*, secrets: Mapping[str, str], channel: ChannelLike, query: Mapping[str, str]) -> str:
    """WeCom's GET URL check: verify `msg_signature` over `echostr`, return the decrypted `echostr`."""
    return wecom.url_check(secrets=secrets, channel=channel, query=query)


def success_body(platform: str, delivery: Delivery | None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the answer `platform` expects once `delivery` is stored.

    Youzan needs `{"code":0,"msg":"success"}` (else it retries); WeCom's URL check needs the
    decrypted `echostr` as plain text, its messages an empty 200; the others get a JSON receipt.
    """
    if platform == "youzan":
        return 200, dict(_JSON), youzan.SUCCESS_BODY
    if platform == "wecom":
        echo = delivery.payload.get("echostr") if delivery is not None and delivery.is_ping else None
        return 200, dict(_TEXT), echo.encode("utf-8") if isinstance(echo, str) else b""
    receipt: dict[str, str] = {"status": "received"}
    if delivery is not None:
        receipt = {"status": "ping" if delivery.is_ping else "received", "delivery_id": delivery.delivery_id}
    return 200, dict(_JSON), json.dumps(receipt, separators=(",", ":")).encode("utf-8")
