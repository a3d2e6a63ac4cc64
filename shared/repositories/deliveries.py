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

- up to ``INLINE_BODY_BYTES`` (64 KiB, ``shared.domain.deliveries``) in the item itself (base64);
- bigger bodies go to the deliveries bucket (env ``DELIVERY_BODIES_BUCKET``, objects expire
  after the same 30 days) under ``body_key``: ``deliveries/<tenant>/<channel>/<hash of the id>``,
  and the item keeps that key instead (the webhook function uploads the body once the item is
  in: ``functions/webhooks/accept.py``);
- without a bucket (unit tests) a big body stays in the item unless body and payload together
  would not fit DynamoDB's 400 KB item; then it is left out and ``body_omitted`` says so.

The domain model (``StoredDelivery``) and the rules on deliveries live in ``shared.domain.deliveries``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from shared.clock import iso
from shared.domain.deliveries import REPLAYABLE, STATUSES, DeliveryStatus, StoredDelivery
from shared.errors import Conflict, NotFound
from shared.repositories.base import Gsi1, TableItem, bind, tenant_key

DELIVERY_SK = "DELIVERY"
RETENTION = timedelta(days=30)
MAX_STORED_CHARS = 380_000
"""Raw body + payload characters kept in one item, below DynamoDB's 400 KB item limit."""

BODY_PREFIX = "deliveries/"
"""Prefix of raw bodies' object keys in the deliveries bucket (its lifecycle rule expires them)."""


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


def _to_item(delivery: StoredDelivery) -> DeliveryItem:
    """The item of `delivery`; with a `body_key`, its raw body lives in the bucket under that key."""
    payload = _pack(delivery.payload)
    raw = None if delivery.body_key else delivery.body
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
        body_key=delivery.body_key,
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

    def __init__(self) -> None:
        bind(DeliveryItem)

    def record(self, delivery: StoredDelivery) -> bool:
        """Store a delivery seen for the first time; False when it was recorded before (a duplicate).

        With a `body_key` the item keeps that key instead of the raw body (see the module docstring).
        """
        try:
            _to_item(delivery).save(condition=DeliveryItem.pk.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def body_key(self, tenant: str, channel: str, delivery_id: str) -> str:
        """The object key of the delivery's raw body in the deliveries bucket (bodies too big for the
        item): tenant and channel readable, the id hashed (it may hold any bytes)."""
        digest = hashlib.sha256(delivery_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"{BODY_PREFIX}{tenant}/{channel}/{digest}"

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
        """Delete the delivery's item (nothing when it is not recorded)."""
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
