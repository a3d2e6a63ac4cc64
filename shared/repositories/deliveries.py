"""Webhook deliveries in the single table: what came in, once, and what became of it.

Access patterns (all GetItem/PutItem/UpdateItem/Query, never Scan):

| pattern | key |
|---|---|
| record a delivery once (dedupe on its id) | put pk=``TENANT#t#DELIVERY#<channel>#<id>``, sk=``DELIVERY`` |
|  | conditioned on ``attribute_not_exists(pk)``: a duplicate is refused |
| get a delivery (the intake consumer) | GetItem on the same key |
| mark its outcome (``ticket_created`` ...) | UpdateItem on the same key |
| a tenant's deliveries, newest first (ops) | gsi1: gsi1pk=``TENANT#t#DELIVERIES`` |
|  | gsi1sk=``<received_at>#<channel>#<id>`` |

Items expire 30 days after they were received (TTL attribute ``expires_at``, epoch seconds).
The item keeps the raw body (base64, at most 256 KiB: the webhook function refuses bigger
bodies with 413) so a delivery can be inspected or replayed, and the verified, parsed payload
(gzip + base64 JSON) so the consumer needs neither the channel's secrets nor the platform's
decoding. When both would not fit in one item (DynamoDB's 400 KB), the raw body is left out
and ``body_omitted`` says so; the payload is what the consumer needs.
"""

from __future__ import annotations

import base64
import gzip
import json
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from pynamodb.attributes import BooleanAttribute, JSONAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from shared.clock import iso
from shared.errors import NotFound
from shared.repositories.base import Gsi1, TableItem, bind, tenant_key

DELIVERY_SK = "DELIVERY"
RETENTION = timedelta(days=30)
MAX_STORED_CHARS = 380_000
"""Raw body + payload characters kept in one item, below DynamoDB's 400 KB item limit."""

DeliveryStatus = Literal["queued", "ticket_created", "unmatched", "failed"]
STATUSES: tuple[str, ...] = ("queued", "ticket_created", "unmatched", "failed")


class StoredDelivery(BaseModel):
    """A verified delivery as intake keeps it (the domain view of a `DeliveryItem`)."""

    tenant: str
    channel: str
    delivery_id: str
    platform: str
    topic: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    received_at: datetime
    status: DeliveryStatus = "queued"
    ticket_id: str | None = None
    reason: str | None = None
    body: bytes | None = None
    """The raw body as received (None when it was too big to keep beside the payload)."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Non-secret headers only: topics and ids (see `KEPT_HEADERS`)."""


KEPT_HEADERS = frozenset(
    {
        "content-type",
        "x-shopify-topic",
        "x-shopify-webhook-id",
        "x-shopify-shop-domain",
        "x-shopify-event-id",
        "x-wc-webhook-topic",
        "x-wc-webhook-delivery-id",
        "x-wc-webhook-id",
        "x-wc-webhook-resource",
        "x-wc-webhook-event",
        "x-wc-webhook-source",
        "event-type",
        "webhook-id",
        "webhook-timestamp",
    }
)


def kept_headers(headers: dict[str, str]) -> dict[str, str]:
    """The headers worth keeping with a delivery: topics and ids, never signatures or tokens."""
    return {k.lower(): v[:512] for k, v in headers.items() if k.lower() in KEPT_HEADERS}


class DeliveryItem(TableItem):
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    by_tenant = Gsi1()

    tenant = UnicodeAttribute()
    channel = UnicodeAttribute()
    delivery_id = UnicodeAttribute()
    platform = UnicodeAttribute()
    topic = UnicodeAttribute(null=True)
    received_at = UTCDateTimeAttribute()
    status = UnicodeAttribute()
    ticket_id = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    body = UnicodeAttribute(null=True)  # base64 of the raw body
    body_omitted = BooleanAttribute(default=False)
    payload = UnicodeAttribute()  # base64(gzip(JSON)) of the parsed payload
    headers = JSONAttribute(null=True)


def _pk(tenant: str, channel: str, delivery_id: str) -> str:
    return tenant_key(tenant, "DELIVERY", channel, delivery_id)


def _pack(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return base64.b64encode(gzip.compress(text.encode("utf-8"), mtime=0)).decode("ascii")


def _unpack(packed: str) -> dict[str, Any]:
    value = json.loads(gzip.decompress(base64.b64decode(packed)).decode("utf-8"))
    return value if isinstance(value, dict) else {}


def _to_item(delivery: StoredDelivery) -> DeliveryItem:
    payload = _pack(delivery.payload)
    body = base64.b64encode(delivery.body).decode("ascii") if delivery.body is not None else None
    omitted = body is not None and len(body) + len(payload) > MAX_STORED_CHARS
    return DeliveryItem(
        _pk(delivery.tenant, delivery.channel, delivery.delivery_id),
        DELIVERY_SK,
        gsi1pk=tenant_key(delivery.tenant, "DELIVERIES"),
        gsi1sk=f"{iso(delivery.received_at)}#{delivery.channel}#{delivery.delivery_id}",
        expires_at=int((delivery.received_at + RETENTION).timestamp()),
        tenant=delivery.tenant,
        channel=delivery.channel,
        delivery_id=delivery.delivery_id,
        platform=delivery.platform,
        topic=delivery.topic,
        received_at=delivery.received_at,
        status=delivery.status,
        ticket_id=delivery.ticket_id,
        reason=delivery.reason,
        body=None if omitted else body,
        body_omitted=omitted,
        payload=payload,
        headers=dict(delivery.headers),
    )


def _from_item(item: DeliveryItem) -> StoredDelivery:
    headers: dict[str, Any] = dict(item.headers or {})
    return StoredDelivery(
        tenant=item.tenant,
        channel=item.channel,
        delivery_id=item.delivery_id,
        platform=item.platform,
        topic=item.topic,
        payload=_unpack(item.payload),
        received_at=item.received_at,
        status=item.status,  # written from DeliveryStatus only
        ticket_id=item.ticket_id,
        reason=item.reason,
        body=base64.b64decode(item.body) if item.body is not None else None,
        headers={str(k): str(v) for k, v in headers.items()},
    )


class DeliveryRepository:
    """The only place that knows how deliveries are keyed and stored."""

    def __init__(self) -> None:
        bind(DeliveryItem)

    def record(self, delivery: StoredDelivery) -> bool:
        """Store a delivery seen for the first time; False when it was recorded before (a duplicate)."""
        try:
            _to_item(delivery).save(condition=DeliveryItem.pk.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get(self, tenant: str, channel: str, delivery_id: str) -> StoredDelivery:
        try:
            item = DeliveryItem.get(_pk(tenant, channel, delivery_id), DELIVERY_SK, consistent_read=True)
        except DoesNotExist:
            raise NotFound(f"delivery '{delivery_id}' of channel '{channel}' is not recorded") from None
        return _from_item(item)

    def find(self, tenant: str, channel: str, delivery_id: str) -> StoredDelivery | None:
        try:
            return self.get(tenant, channel, delivery_id)
        except NotFound:
            return None

    def mark(
        self,
        tenant: str,
        channel: str,
        delivery_id: str,
        status: DeliveryStatus,
        ticket_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Set the delivery's outcome (and the ticket it became, or why it did not)."""
        if status not in STATUSES:
            raise ValueError(f"unknown delivery status {status!r}; expected one of {', '.join(STATUSES)}")
        item = DeliveryItem(_pk(tenant, channel, delivery_id), DELIVERY_SK)
        actions: list[Any] = [DeliveryItem.status.set(status)]
        actions.append(
            DeliveryItem.ticket_id.set(ticket_id) if ticket_id else DeliveryItem.ticket_id.remove()
        )
        actions.append(DeliveryItem.reason.set(reason[:2000]) if reason else DeliveryItem.reason.remove())
        try:
            item.update(actions=actions, condition=DeliveryItem.pk.exists())
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise NotFound(f"delivery '{delivery_id}' of channel '{channel}' is not recorded") from None
            raise

    def discard(self, tenant: str, channel: str, delivery_id: str) -> None:
        """Forget a delivery that could not be queued, so the platform's retry is recorded afresh."""
        DeliveryItem(_pk(tenant, channel, delivery_id), DELIVERY_SK).delete()

    def list(self, tenant: str, limit: int = 50) -> list[StoredDelivery]:
        """The tenant's most recent deliveries, newest first."""
        items = DeliveryItem.by_tenant.query(
            tenant_key(tenant, "DELIVERIES"), scan_index_forward=False, limit=limit, page_size=limit
        )
        return [_from_item(item) for item in items if isinstance(item, DeliveryItem)]
