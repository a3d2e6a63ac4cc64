"""The events outbox: a domain event written as an item, in the same transaction as the change it
reports, for the table stream to carry to ``scrm-ticket-publish`` (``docs/events.md``).

Ticket history lines and settlement records are events already (the publisher reads them as they
are). Any other change that is an event (an opportunity won, two customers merged) is published by
writing :func:`outbox_item` with it: the event leaves only if the change commits, and nothing on the
request's path calls EventBridge.

| pattern | key |
|---|---|
| an event to publish | pk=``TENANT#t#OUTBOX#<event id>``, sk=``OUTBOX`` |

The key is the event's id (stable: derived from its cause), so writing the same event again (a
retried request) overwrites the item: a MODIFY, which the publisher's filter (INSERTs only) passes
over, so the event is published once. Items expire after :data:`OUTBOX_RETENTION` (TTL
``expires_at``): the stream keeps a record 24 hours, the item has no use after that.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pynamodb.attributes import JSONAttribute

from shared.clock import now
from shared.domain.events import DomainEvent
from shared.repositories.base import TableItem, tenant_key

OUTBOX_SK = "OUTBOX"
OUTBOX_RETENTION = timedelta(days=2)


class OutboxItem(TableItem):
    event = JSONAttribute()


def outbox_item(event: DomainEvent) -> OutboxItem:
    """The item that publishes ``event`` (put it in the transaction of the change it reports)."""
    return OutboxItem(
        tenant_key(event.tenant, "OUTBOX", event.id),
        OUTBOX_SK,
        event=event.model_dump(mode="json"),
        expires_at=int((now() + OUTBOX_RETENTION).timestamp()),
    )


def outbox_event(image: dict[str, Any]) -> DomainEvent | None:
    """The event an outbox item's stream image carries; None for any other item."""
    if image.get("sk", {}).get("S") != OUTBOX_SK:
        return None
    return DomainEvent.model_validate(OutboxItem.from_raw_data(image).event)
