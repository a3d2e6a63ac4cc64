"""Shopify: `X-Shopify-Hmac-Sha256` is base64(HMAC-SHA256(secret, raw body))."""

from __future__ import annotations

from collections.abc import Mapping

from .base import (
    ChannelLike,
    Delivery,
    Request,
    bad_signature,
    body_hash,
    hmac_sha256_base64,
    missing_header,
    parse_json_object,
    require_secret,
    same,
)

SIGNATURE_HEADER = "X-Shopify-Hmac-Sha256"
DELIVERY_ID_HEADER = "X-Shopify-Webhook-Id"
TOPIC_HEADER = "X-Shopify-Topic"


def signature(secret: str, body: bytes) -> str:
    """The value Shopify puts in `X-Shopify-Hmac-Sha256` for `body`."""
    return hmac_sha256_base64(secret.encode("utf-8"), body)


def verify(request: Request, secrets: Mapping[str, str], channel: ChannelLike) -> Delivery:
    secret = require_secret(secrets, "secret")
    given = request.header(SIGNATURE_HEADER)
    if given is None:
        raise missing_header(SIGNATURE_HEADER)
    if not same(signature(secret, request.body), given):
        raise bad_signature(
            f"header {SIGNATURE_HEADER}", "the HMAC-SHA256 of the body with the channel's secret"
        )
    return Delivery(
        delivery_id=request.header(DELIVERY_ID_HEADER) or body_hash(request.body),
        topic=request.header(TOPIC_HEADER),
        payload=parse_json_object(request.body),
    )
