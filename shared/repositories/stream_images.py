"""The table stream's new images read back as domain objects (``shared.ports.StreamImages``).

A stream record holds an item in DynamoDB's attribute-value JSON. Which item it is, and how it is
stored, is the repositories' knowledge (keys, attribute encodings), so the events publisher
(``functions/ticket/publish.py``) asks here and sees only history lines and settlement records.

| item | key |
|---|---|
| a ticket's history line | pk=``TENANT#t#TICKET#id``, sk begins_with ``EVT#`` (``tickets.py``) |
| a settlement record | pk=``TENANT#t#TICKET#id``, sk begins_with ``SETTLEMENT#`` (``ledger.py``) |
| any other event, written to the outbox | pk=``TENANT#t#OUTBOX#<event id>``, sk=``OUTBOX`` (``outbox.py``) |
"""

from __future__ import annotations

from typing import Any

from shared.domain.events import DomainEvent, StoredTicketEvent
from shared.domain.ledger import SettlementRecord
from shared.domain.ticket import TicketEvent
from shared.repositories.ledger import SETTLEMENT_PREFIX, SettlementItem
from shared.repositories.ledger import _record_from as settlement_record_of
from shared.repositories.outbox import OUTBOX_SK, outbox_event
from shared.repositories.tickets import EVENT_PREFIX, TicketEventItem

TICKET_EVENT_PREFIX = EVENT_PREFIX
SETTLEMENT_RECORD_PREFIX = SETTLEMENT_PREFIX
OUTBOX_KEY = OUTBOX_SK


def _key(image: dict[str, Any]) -> tuple[str, str]:
    return str(image.get("pk", {}).get("S", "")), str(image.get("sk", {}).get("S", ""))


def _tenant_and_ticket(pk: str) -> tuple[str, str] | None:
    """``TENANT#<t>#TICKET#<id>`` -> (t, id)."""
    parts = pk.split("#", 3)
    if len(parts) != 4 or parts[0] != "TENANT" or parts[2] != "TICKET":
        return None
    return parts[1], parts[3]


class StreamImageReader:
    def ticket_event(self, image: dict[str, Any]) -> StoredTicketEvent | None:
        pk, sk = _key(image)
        owner = _tenant_and_ticket(pk)
        if owner is None or not sk.startswith(TICKET_EVENT_PREFIX):
            return None
        item = TicketEventItem.from_raw_data(image)
        line = TicketEvent(
            at=item.at,
            actor=item.actor,
            kind=item.kind,
            node=item.node,
            action=item.action,
            changes=item.changes or {},
            version=int(item.version),
        )
        return StoredTicketEvent(tenant=owner[0], ticket_id=owner[1], key=(pk, sk), event=line)

    def settlement(self, image: dict[str, Any]) -> tuple[tuple[str, str], SettlementRecord] | None:
        pk, sk = _key(image)
        if not sk.startswith(SETTLEMENT_RECORD_PREFIX):
            return None
        return (pk, sk), settlement_record_of(SettlementItem.from_raw_data(image))

    def outbox_event(self, image: dict[str, Any]) -> DomainEvent | None:
        return outbox_event(image)
