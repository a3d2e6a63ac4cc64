"""Shopify: `X-Shopify-Hmac-Sha256` is base64(HMAC-SHA256(secret, raw body))."""

from __future__ import annotations

from collections.abc import Mapping

from .base import ChannelLike, Delivery, Request, SignedHeaders, body_hmac, body_hmac_delivery

SIGNATURE_HEADER = "X-Shopify-Hmac-Sha256"
DELIVERY_ID_HEADER = "X-Shopify-Webhook-Id"
TOPIC_HEADER = "X-Shopify-Topic"
HEADERS = SignedHeaders(SIGNATURE_HEADER, DELIVERY_ID_HEADER, TOPIC_HEADER)


def signature(secret: str, body: bytes) -> str:
    """The value Shopify puts in `X-Shopify-Hmac-Sha256` for `body`."""
    return body_hmac(secret, body)


def verify(request: Request, secrets: Mapping[str, str], channel: ChannelLike) -> Delivery:
    return body_hmac_delivery(request, secrets, HEADERS)
