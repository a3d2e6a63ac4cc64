"""``POST /_local/sign``: headers that sign a delivery for a twin channel, at the twin clock's time.

Signature windows (Standard Webhooks: ±5 minutes) are checked against the product clock, which on
the twin is the twin clock: after ``/_local/clock/advance`` a delivery signed with the wall clock is
stale. This signs with the channel's own secret (from the twin's SSM) and the twin's time, so a
script can send deliveries to a twin whose clock was moved:

    POST /_local/sign {"tenant": "acme-home", "channel": "partner-api", "body": {...}, "topic": "..."}
    -> {"url": "/webhooks/acme-home/partner-api", "headers": {...}, "body": "<send exactly this>"}

Supported: Standard Webhooks, Shopify, WooCommerce (HMAC platforms). Youzan and WeCom sign inside
their bodies; their adapters' own functions do that (``youzan.cloud_sign``, ``wecom.signature``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import boto3

from infra.twin.deploy import REGION

SIGNABLE = ("standard-webhooks", "shopify", "woocommerce")


def signed_delivery(
    channels: dict[str, dict[str, Any]], data: dict[str, Any], now: Callable[[], datetime]
) -> tuple[int, dict[str, Any]]:
    """(status, answer) for ``data``; ``channels`` maps ``tenant/channel`` to its platform and secret ref."""
    tenant, channel = data.get("tenant"), data.get("channel")
    if not isinstance(tenant, str) or not isinstance(channel, str):
        return 400, _error("bad_request", 'send {"tenant", "channel", "body"[, "topic", "id"]}')
    found = channels.get(f"{tenant}/{channel}")
    if found is None:
        return 404, _error("not_found", f"no channel {channel} of tenant {tenant} is deployed")
    platform = str(found["platform"])
    if platform not in SIGNABLE:
        return 400, _error(
            "bad_request", f"{platform} deliveries sign themselves; /_local/sign signs {SIGNABLE}"
        )
    body = data.get("body", {})
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    raw = text.encode("utf-8")
    try:
        secret = boto3.client("ssm", region_name=REGION).get_parameter(
            Name=found["secret"], WithDecryption=True
        )
    except Exception:
        return 409, _error("conflict", f"the secret {found['secret']} of {channel} is not set on this twin")
    key = str(secret["Parameter"]["Value"])
    delivery_id = str(data.get("id") or f"msg_{uuid.uuid4().hex}")
    topic = str(data.get("topic") or "")
    headers = _headers(platform, key, delivery_id, topic, raw, int(now().timestamp()))
    return 200, {"url": f"/webhooks/{tenant}/{channel}", "headers": headers, "body": text}


def _headers(platform: str, key: str, delivery_id: str, topic: str, raw: bytes, at: int) -> dict[str, str]:
    content = {"content-type": "application/json"}
    if platform == "standard-webhooks":
        from functions.webhooks.adapters import standard_webhooks

        signature = standard_webhooks.sign(key, delivery_id, str(at), raw)
        return {
            **content,
            "webhook-id": delivery_id,
            "webhook-timestamp": str(at),
            "webhook-signature": signature,
        }
    if platform == "shopify":
        from functions.webhooks.adapters import shopify

        return {
            **content,
            shopify.SIGNATURE_HEADER: shopify.signature(key, raw),
            shopify.DELIVERY_ID_HEADER: delivery_id,
            shopify.TOPIC_HEADER: topic,
        }
    from functions.webhooks.adapters import woocommerce

    return {
        **content,
        woocommerce.SIGNATURE_HEADER: woocommerce.signature(key, raw),
        woocommerce.DELIVERY_ID_HEADER: delivery_id,
        woocommerce.TOPIC_HEADER: topic,
    }


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": code, "message": message, "details": []}
