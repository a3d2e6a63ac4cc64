"""WooCommerce: `X-WC-Webhook-Signature` is base64(HMAC-SHA256(secret, raw body)).

When a webhook is created, WooCommerce posts an unsigned, form-encoded `webhook_id=N` ping and
refuses to save the webhook unless it gets a 2xx. The ping is answered 200 and creates nothing;
it still needs the channel's secret to be configured, so a missing secret shows up at set-up time
instead of on the first order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .base import ChannelLike, Delivery, Request, SignedHeaders, body_hmac, body_hmac_delivery

SIGNATURE_HEADER = "X-WC-Webhook-Signature"
DELIVERY_ID_HEADER = "X-WC-Webhook-Delivery-ID"
TOPIC_HEADER = "X-WC-Webhook-Topic"
HEADERS = SignedHeaders(SIGNATURE_HEADER, DELIVERY_ID_HEADER, TOPIC_HEADER)

_PING = re.compile(rb"webhook_id=(\d{1,20})")


def signature(secret: str, body: bytes) -> str:
    """The value WooCommerce puts in `X-WC-Webhook-Signature` for `body`."""
    return body_hmac(secret, body)


def ping_webhook_id(body: bytes) -> str | None:
    """The webhook id of a creation ping (`webhook_id=N` and nothing else), else None."""
    match = _PING.fullmatch(body.strip())
    return match.group(1).decode("ascii") if match else None


def _creation_ping(request: Request) -> Delivery | None:
    webhook_id = ping_webhook_id(request.body)
    if webhook_id is None:
        return None
    return Delivery(
        delivery_id=f"woocommerce-ping:{webhook_id}",
        topic=None,
        payload={"webhook_id": webhook_id},
        is_ping=True,
    )


def verify(request: Request, secrets: Mapping[str, str], channel: ChannelLike) -> Delivery:
    return body_hmac_delivery(request, secrets, HEADERS, unsigned=_creation_ping)
