"""Webhook deliveries in the single table: what came in, once, and what became of it.

Access patterns (all GetItem/PutItem/UpdateItem/Query, never Scan):

| pattern | key |
|---|---|
| record a delivery once (dedupe on its id) | put pk=``TENANT#t#DELIVERY#<channel>#<id>``, sk=``DELIVERY`` |
|  | conditioned on ``attribute_not_exists(pk)``: a duplicate is refused |
| get a delivery (the intake consumer) | GetItem on the same key |
| mark its outcome (``ticket_created`` ...) | UpdateItem on the same key |
| a tenant's deliveries, newest first (ops) | gsi4: gsi4pk=``TENANT#t#DELIVERIES#<shard>``, merged |
|  | gsi4sk=``<received_at>#<channel>#<id>``, filters on channel/status |
| replay: back to ``queued`` (ops) | UpdateItem on the item key, conditioned on |
|  | ``status IN (failed, unmatched, queued)`` |

The tenant's list is its own index (``gsi4``, :data:`DELIVERY_INDEX`), not the shared ``gsi1``, for two
reasons. Its entries carry only what a list shows (:data:`DELIVERY_INDEX_ATTRIBUTES`: an ``INCLUDE``
projection of ~300 bytes, never the raw body, the payload or the headers), so an entry write costs
1 WRU however big the delivery; ``gsi1`` projects whole items for the entities that share it. And
it is write-sharded: every delivery writes its entry twice (recorded, then marked), so at one
tenant's 500 deliveries/s a single partition key would take ~1,000 entry writes/s, a partition's
whole 1,000 WCU/s; :data:`DELIVERY_LIST_SHARDS` keys spread them (``crc32(id)``, stable), and a
page merges the shards newest first by the sort key, which is unique, so a page ends at one sort key
(the cursor). Deliveries recorded before this index (``gsi1`` entries only) are not listed; the
product was not live.

Items expire 30 days after they were received (TTL attribute ``expires_at``, epoch seconds).
The item keeps the verified, parsed payload (gzip + base64 JSON) so the consumer needs neither
the channel's secrets nor the platform's decoding, and the raw body (at most 256 KiB: the
webhook function refuses bigger bodies with 413) so a delivery can be inspected:

- up to ``INLINE_BODY_BYTES`` (1 KiB, ``shared.domain.deliveries``: why) in the item itself (base64);
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
import zlib
from datetime import datetime, timedelta
from typing import Any, cast

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection

from shared.clock import iso
from shared.domain.deliveries import REPLAYABLE, STATUSES, DeliveryStatus, StoredDelivery
from shared.errors import Conflict, NotFound
from shared.repositories.base import TableItem, bind, list_position, merged_page, shard_page_size, tenant_key

DELIVERY_SK = "DELIVERY"
RETENTION = timedelta(days=30)
MAX_STORED_CHARS = 380_000
"""Raw body + payload characters kept in one item, below DynamoDB's 400 KB item limit."""

BODY_PREFIX = "deliveries/"
"""Prefix of raw bodies' object keys in the deliveries bucket (its lifecycle rule expires them)."""


DELIVERY_INDEX = "gsi4"
DELIVERY_INDEX_ATTRIBUTES = (
    "tenant",
    "channel",
    "delivery_id",
    "platform",
    "topic",
    "received_at",
    "status",
    "ticket_id",
    "reason",
    "body_size",
    "body_key",
    "body_omitted",
    "body_stored",
    "replays",
)
"""Non-key attributes the deliveries' index projects: a list's columns and filters, nothing big
(``infra/constructs/table.py`` builds the index from them)."""
DELIVERY_LIST_SHARDS = 4
"""Partition keys of a tenant's delivery list: ~250 entry writes/s each at 500 deliveries/s."""


class DeliveryIndex(GlobalSecondaryIndex["DeliveryItem"]):
    class Meta:
        index_name = DELIVERY_INDEX
        projection = IncludeProjection(list(DELIVERY_INDEX_ATTRIBUTES))

    gsi4pk = UnicodeAttribute(hash_key=True)
    gsi4sk = UnicodeAttribute(range_key=True)


class DeliveryItem(TableItem):
    gsi4pk = UnicodeAttribute()
    gsi4sk = UnicodeAttribute()
    by_tenant = DeliveryIndex()

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
    body_key = UnicodeAttribute(null=True)  # object key in the deliveries bucket (bodies > 1 KiB)
    body_size = NumberAttribute(null=True)
    body_stored = UnicodeAttribute(null=True)  # item, bucket, omitted or none (for the list)
    payload = UnicodeAttribute(null=True)  # base64(gzip(JSON)) of the parsed payload; not in the index
    headers = JSONAttribute(null=True)
    replays = NumberAttribute(null=True)
    replayed_at = UTCDateTimeAttribute(null=True)


def _pk(tenant: str, channel: str, delivery_id: str) -> str:
    return tenant_key(tenant, "DELIVERY", channel, delivery_id)


def list_shard(delivery_id: str) -> int:
    """The shard of the tenant's delivery list a delivery's entry lives in (stable, unlike ``hash``)."""
    return zlib.crc32(delivery_id.encode("utf-8", "surrogatepass")) % DELIVERY_LIST_SHARDS


def _list_key(tenant: str, shard: int) -> str:
    return tenant_key(tenant, "DELIVERIES", str(shard))


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
        gsi4pk=_list_key(delivery.tenant, list_shard(delivery.delivery_id)),
        gsi4sk=f"{iso(delivery.received_at)}#{delivery.channel}#{delivery.delivery_id}",
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
        body_stored="bucket" if delivery.body_key else "omitted" if omitted else "item" if body else "none",
        payload=payload,
        headers=dict(delivery.headers),
    )


def _from_item(item: DeliveryItem, listed: bool = False) -> StoredDelivery:
    """The delivery of an item; ``listed``: an index entry (no body, payload or headers: it says
    where the body is kept instead)."""
    headers: dict[str, Any] = dict(item.headers or {})
    return StoredDelivery(
        tenant=item.tenant,
        channel=item.channel,
        delivery_id=item.delivery_id,
        platform=item.platform,
        topic=item.topic,
        payload=_unpack(item.payload) if item.payload else {},
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
        stored_as=cast(Any, item.body_stored) if listed and item.body_stored else None,
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
        """A page of the tenant's deliveries, newest first, and the key to continue from (or None):
        every shard of the list below the cursor's sort key, merged (see the module notes)."""
        before = list_position(start_key)
        condition: Any = None
        for attribute, value in ((DeliveryItem.channel, channel), (DeliveryItem.status, status)):
            if value is not None:
                term = attribute == value
                condition = term if condition is None else condition & term
        page_size = shard_page_size(limit, DELIVERY_LIST_SHARDS)
        shards = [
            DeliveryItem.by_tenant.query(
                _list_key(tenant, shard),
                DeliveryItem.gsi4sk < before if before is not None else None,
                scan_index_forward=False,
                filter_condition=condition,
                limit=limit,
                page_size=page_size,
            )
            for shard in range(DELIVERY_LIST_SHARDS)
        ]
        items, more = merged_page(shards, lambda item: cast(DeliveryItem, item).gsi4sk, limit)
        return [_from_item(cast(DeliveryItem, item), listed=True) for item in items], more
