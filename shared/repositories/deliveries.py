"""Webhook deliveries in the single table: what came in, once, and what became of it.

Access patterns (all GetItem/PutItem/UpdateItem/Query, never Scan):

| pattern | key |
|---|---|
| record a delivery once (dedupe on its id) | put pk=``TENANT#t#DELIVERY#<channel>#<id>``, sk=``DELIVERY`` |
|  | conditioned on ``attribute_not_exists(pk)``: a duplicate is refused |
| get a delivery (the intake consumer) | GetItem on the same key |
| mark its outcome (``ticket_created`` ...) | UpdateItem on the same key |
| a tenant's deliveries, newest first (ops) | gsi1: gsi1pk=``TENANT#t#DELIVERIES`` |
|  | gsi1sk=``<received_at>#<channel>#<id>``, filters on channel/status |
| replay: back to ``queued`` (ops) | UpdateItem on the item key, conditioned on |
|  | ``status IN (failed, unmatched, queued)`` |

Items expire 30 days after they were received (TTL attribute ``expires_at``, epoch seconds).
The item keeps the verified, parsed payload (gzip + base64 JSON) so the consumer needs neither
the channel's secrets nor the platform's decoding, and the raw body (at most 256 KiB: the
webhook function refuses bigger bodies with 413) so a delivery can be inspected:

- up to ``INLINE_BODY_BYTES`` (64 KiB) in the item itself (base64);
- bigger bodies go to the deliveries bucket (env ``DELIVERY_BODIES_BUCKET``, objects expire
  after the same 30 days) under ``deliveries/<tenant>/<channel>/<hash of the id>``, and the
  item keeps that key (``body_key``) instead;
- without a bucket (unit tests) a big body stays in the item unless body and payload together
  would not fit DynamoDB's 400 KB item; then it is left out and ``body_omitted`` says so.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field
from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from shared.clock import iso
from shared.domain.deliveries import REPLAYABLE, STATUSES, DeliveryStatus
from shared.errors import Conflict, NotFound
from shared.repositories.base import Gsi1, TableItem, bind, tenant_key
from shared.settings import settings

DELIVERY_SK = "DELIVERY"
RETENTION = timedelta(days=30)
MAX_STORED_CHARS = 380_000
"""Raw body + payload characters kept in one item, below DynamoDB's 400 KB item limit."""

INLINE_BODY_BYTES = 64 * 1024
"""Raw bodies up to this size stay in the item; bigger ones go to the deliveries bucket."""
BODY_PREFIX = "deliveries/"


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
    """The raw body as received (None when it is kept in the bucket or was too big to keep)."""
    body_key: str | None = None
    """Object key of the raw body in the deliveries bucket (bodies over 64 KiB)."""
    body_size: int | None = None
    """Bytes of the raw body as received."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Non-secret headers only: topics and ids (see `KEPT_HEADERS`)."""
    replays: int = 0
    replayed_at: datetime | None = None

    @property
    def body_stored(self) -> Literal["item", "bucket", "omitted", "none"]:
        if self.body_key:
            return "bucket"
        if self.body is not None:
            return "item"
        return "omitted" if self.body_size else "none"


class BodyStore(Protocol):
    """Where raw bodies over ``INLINE_BODY_BYTES`` go (the deliveries bucket)."""

    def put(self, key: str, body: bytes) -> None: ...


class S3BodyStore:
    """The deliveries bucket (env ``DELIVERY_BODIES_BUCKET``): SSE, TLS only, 30-day expiry."""

    def __init__(self, bucket: str) -> None:
        import boto3  # only functions that store big bodies need the S3 client

        self.bucket = bucket
        self._client = boto3.client("s3", region_name=settings().region)

    def put(self, key: str, body: bytes) -> None:
        self._client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType="application/octet-stream",
            ServerSideEncryption="AES256",
        )


def body_store_from_env() -> BodyStore | None:
    """The deliveries bucket named by ``DELIVERY_BODIES_BUCKET``, or None when it is not set."""
    bucket = settings().delivery_bodies_bucket
    return S3BodyStore(bucket) if bucket else None


def body_key(tenant: str, channel: str, delivery_id: str) -> str:
    """Object key of a delivery's raw body: tenant and channel readable, the id hashed (any bytes)."""
    digest = hashlib.sha256(delivery_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{BODY_PREFIX}{tenant}/{channel}/{digest}"


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
    body_key = UnicodeAttribute(null=True)  # object key in the deliveries bucket (bodies > 64 KiB)
    body_size = NumberAttribute(null=True)
    payload = UnicodeAttribute()  # base64(gzip(JSON)) of the parsed payload
    headers = JSONAttribute(null=True)
    replays = NumberAttribute(null=True)
    replayed_at = UTCDateTimeAttribute(null=True)


def _pk(tenant: str, channel: str, delivery_id: str) -> str:
    return tenant_key(tenant, "DELIVERY", channel, delivery_id)


def _pack(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return base64.b64encode(gzip.compress(text.encode("utf-8"), mtime=0)).decode("ascii")


def _unpack(packed: str) -> dict[str, Any]:
    value = json.loads(gzip.decompress(base64.b64decode(packed)).decode("utf-8"))
    return value if isinstance(value, dict) else {}


def _to_item(delivery: StoredDelivery, key: str | None = None) -> DeliveryItem:
    """The item of `delivery`; with `key`, its raw body lives in the bucket under that key."""
    payload = _pack(delivery.payload)
    raw = None if key else delivery.body
    body = base64.b64encode(raw).decode("ascii") if raw is not None else None
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
        body_key=key,
        body_size=len(delivery.body) if delivery.body is not None else delivery.body_size,
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
        body_key=item.body_key,
        body_size=int(item.body_size) if item.body_size is not None else None,
        headers={str(k): str(v) for k, v in headers.items()},
        replays=int(item.replays or 0),
        replayed_at=item.replayed_at,
    )


class DeliveryRepository:
    """The only place that knows how deliveries are keyed and stored."""

    def __init__(self, bodies: BodyStore | None = None) -> None:
        bind(DeliveryItem)
        self._bodies = bodies

    def record(self, delivery: StoredDelivery) -> bool:
        """Store a delivery seen for the first time; False when it was recorded before (a duplicate).

        A raw body over 64 KiB goes to the bucket once the item is in (so a duplicate never
        overwrites the first body); when that upload fails the item is removed again and the
        error raised, so the platform's retry is recorded afresh.
        """
        big = (
            self._bodies is not None and delivery.body is not None and len(delivery.body) > INLINE_BODY_BYTES
        )
        key = body_key(delivery.tenant, delivery.channel, delivery.delivery_id) if big else None
        try:
            _to_item(delivery, key).save(condition=DeliveryItem.pk.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        if key is not None and self._bodies is not None and delivery.body is not None:
            try:
                self._bodies.put(key, delivery.body)
            except Exception:
                self.discard(delivery.tenant, delivery.channel, delivery.delivery_id)
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

    def requeue(self, tenant: str, channel: str, delivery_id: str, at: datetime) -> StoredDelivery:
        """Put a failed, unmatched or still queued delivery back to ``queued`` (a replay).

        Conditional: a delivery that became a ticket is a ``Conflict`` (replaying it would
        change nothing), one that is not recorded is ``NotFound``.
        """
        item = DeliveryItem(_pk(tenant, channel, delivery_id), DELIVERY_SK)
        try:
            item.update(
                actions=[
                    DeliveryItem.status.set("queued"),
                    DeliveryItem.reason.remove(),
                    DeliveryItem.replays.add(1),
                    DeliveryItem.replayed_at.set(at),
                ],
                condition=DeliveryItem.pk.exists() & DeliveryItem.status.is_in(*REPLAYABLE),
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            current = self.get(tenant, channel, delivery_id)  # NotFound when it is not recorded
            raise Conflict(
                f"delivery '{delivery_id}' of channel '{channel}' is {current.status}"
                + (f" (ticket {current.ticket_id})" if current.ticket_id else "")
                + f"; only {', '.join(REPLAYABLE)} deliveries can be replayed",
                [{"field": "status", "message": current.status}],
            ) from None
        return self.get(tenant, channel, delivery_id)

    def page(
        self,
        tenant: str,
        *,
        channel: str | None = None,
        status: str | None = None,
        limit: int = 50,
        start_key: dict[str, Any] | None = None,
    ) -> tuple[list[StoredDelivery], dict[str, Any] | None]:
        """A page of the tenant's deliveries, newest first, and the key to continue from (or None)."""
        condition: Any = None
        for attribute, value in ((DeliveryItem.channel, channel), (DeliveryItem.status, status)):
            if value is not None:
                term = attribute == value
                condition = term if condition is None else condition & term
        query = DeliveryItem.by_tenant.query(
            tenant_key(tenant, "DELIVERIES"),
            scan_index_forward=False,
            filter_condition=condition,
            last_evaluated_key=start_key,
            limit=limit,
            page_size=max(limit, 25),
        )
        found = [_from_item(item) for item in query if isinstance(item, DeliveryItem)]
        more = query.last_evaluated_key if len(found) == limit else None
        return found, more

    def list(self, tenant: str, limit: int = 50) -> list[StoredDelivery]:
        """The tenant's most recent deliveries, newest first."""
        return self.page(tenant, limit=limit)[0]
