"""Domain events: what the platform tells the outside world (a tenant's CRM) has happened.

Each event has a ``type`` (EventBridge's ``detail-type``: ``ticket.closed``), a schema ``version``
and a ``data`` model of its own (:data:`EVENT_TYPES`); the envelope is the same for all of them
(:class:`DomainEvent`). ``docs/events.md`` is generated from these models (``scrm events-doc``), so
the page cannot drift from what is sent.

- ``id`` is derived from what caused the event (the stored item's key: :func:`event_id`), never
  drawn at random: a stream record delivered twice, or a publish retried, gives the same id, and a
  consumer dedupes on it (it is also the outbound webhook's ``webhook-id``).
- ``version`` is the schema version of ``data``. Adding an optional field keeps it; renaming,
  removing or retyping one is a new version, published beside the old one until consumers move.
- ``occurred_at`` is when the change happened (the history line's instant), not when it was sent.

Pure: no AWS library. Reading stored items is the repositories' job; publishing is
``functions/ticket/publish.py``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.ledger import SettlementRecord
from shared.domain.ticket import TicketEvent

EVENT_SOURCE = "scrm.workorders"
"""EventBridge ``source`` of every domain event on the platform bus."""


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- tickets
class TicketCreated(_Data):
    ticket_id: str
    node: str = Field(description="the node the ticket starts at")
    actor: str = Field(description="who created it: a user id, or `system` for a delivery")
    fields: dict[str, Any] = Field(description="the fields it was created with (wire format)")
    ticket_version: int = Field(
        description="the ticket's version after the change (orders a ticket's events)"
    )


class TicketMoved(_Data):
    ticket_id: str
    from_node: str = Field(description="the node the action was taken on")
    to_node: str = Field(description="the node it leads to")
    action: str
    actor: str
    fields: dict[str, Any] = Field(default_factory=dict, description="fields the action changed")
    ticket_version: int


class TicketClosed(_Data):
    ticket_id: str
    node: str = Field(description="the end node reached")
    ticket_version: int


class TicketFailed(_Data):
    ticket_id: str
    node: str = Field(description="where it failed (a retry starts there again)")
    reason: str
    ticket_version: int


# ---------------------------------------------------------------- settlement
class SettlementPosted(_Data):
    ticket_id: str
    sequence: int = Field(description="1: the settlement; above 1: a rework adjustment")
    kind: Literal["settlement", "adjustment"]
    technician: str
    period: str = Field(description="YYYY-MM of the completion, in the tenant's time zone")
    completed_at: datetime
    settled_at: datetime
    currency: str | None = None
    total: Decimal = Field(description="the ticket's total as settled (decimal string)")
    installer_earnings: Decimal = Field(description="the installer's earnings (decimal string)")


# ---------------------------------------------------------------- customers and sales (issue 17)
class OpportunityCreated(_Data):
    opportunity_id: str
    customer_id: str | None = None
    ticket_id: str | None = Field(default=None, description="the ticket whose event created it")
    kind: str = Field(description="the opportunity type the tenant's rule names (e.g. extended_warranty)")
    amount: Decimal | None = None
    owner: str | None = None


class OpportunityWon(_Data):
    opportunity_id: str
    customer_id: str | None = None
    amount: Decimal | None = None
    actor: str


class OpportunityLost(_Data):
    opportunity_id: str
    customer_id: str | None = None
    reason: str | None = None
    actor: str


class CustomerMerged(_Data):
    customer_id: str = Field(description="the customer that remains")
    merged_id: str = Field(description="the customer merged into it (no longer answered)")
    reason: str = Field(description="what linked them (e.g. a delivery with both phone and buyer id)")


@dataclass(frozen=True)
class EventType:
    name: str
    version: int
    data: type[_Data]
    when: str
    """When it is sent, for the documentation."""


EVENT_TYPES: dict[str, EventType] = {
    t.name: t
    for t in (
        EventType("ticket.created", 1, TicketCreated, "a ticket is created (API, web form, delivery)"),
        EventType("ticket.moved", 1, TicketMoved, "an action moves a ticket from one node to another"),
        EventType("ticket.closed", 1, TicketClosed, "a ticket reaches an end node"),
        EventType("ticket.failed", 1, TicketFailed, "a ticket's workflow failed (it can be retried)"),
        EventType("settlement.posted", 1, SettlementPosted, "a settlement or rework adjustment is recorded"),
        EventType("opportunity.created", 1, OpportunityCreated, "a rule creates a sales opportunity"),
        EventType("opportunity.won", 1, OpportunityWon, "an opportunity is won"),
        EventType("opportunity.lost", 1, OpportunityLost, "an opportunity is lost"),
        EventType("customer.merged", 1, CustomerMerged, "two customer records turn out to be one"),
    )
}
"""Every event type, in the order the documentation lists them."""
EVENT_NAMES: tuple[str, ...] = tuple(EVENT_TYPES)


class DomainEvent(BaseModel):
    """The envelope every event shares: EventBridge's ``detail`` and the outbound webhook's body."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="stable: the same cause always gives the same id (dedupe on it)")
    type: str = Field(description="the event type, also EventBridge's detail-type")
    version: int = Field(description="schema version of `data`")
    tenant: str
    occurred_at: datetime
    data: dict[str, Any]

    def body(self) -> bytes:
        """The JSON sent (compact, keys in model order): what the webhook signature covers."""
        return self.model_dump_json().encode("utf-8")


def event_id(*cause: str) -> str:
    """A stable id from what caused the event (e.g. the stored item's table key): ``evt_`` + 32 hex."""
    return "evt_" + hashlib.sha256("\x1f".join(cause).encode("utf-8")).hexdigest()[:32]


def make_event(
    name: str, tenant: str, cause: tuple[str, ...], occurred_at: datetime, data: _Data
) -> DomainEvent:
    """An event of type ``name``; ``data`` must be that type's model (checked: a mismatch is a bug)."""
    kind = EVENT_TYPES[name]
    if not isinstance(data, kind.data):
        raise TypeError(f"{name} carries {kind.data.__name__}, not {type(data).__name__}")
    return DomainEvent(
        id=event_id(*cause),
        type=name,
        version=kind.version,
        tenant=tenant,
        occurred_at=occurred_at,
        data=data.model_dump(mode="json"),
    )


def event_schema(name: str) -> dict[str, Any]:
    """The JSON schema of one event type's envelope, ``data`` typed by its model."""
    kind = EVENT_TYPES[name]
    schema = DomainEvent.model_json_schema(mode="serialization")
    data = kind.data.model_json_schema(mode="serialization")
    schema["title"] = f"{name} v{kind.version}"
    schema["properties"]["type"] = {"const": name, "type": "string"}
    schema["properties"]["version"] = {"const": kind.version, "type": "integer"}
    schema["properties"]["data"] = {k: v for k, v in data.items() if k != "$defs"}
    if "$defs" in data:
        schema["$defs"] = data["$defs"]
    return schema


# ---------------------------------------------------------------- from stored history
PUBLISHED_KINDS = ("created", "action", "closed", "failed")
"""History line kinds that can be domain events (:func:`ticket_event`); the stream's event filter
lets only these through, so ``entered``, ``dispatched``, SLA levels ... cost no invocation."""


@dataclass(frozen=True)
class StoredTicketEvent:
    """A ticket's history line as the table stream shows it: the tenant, the ticket, the item's key
    (the event id's cause) and the line itself."""

    tenant: str
    ticket_id: str
    key: tuple[str, str]
    event: TicketEvent


def ticket_event(stored: StoredTicketEvent) -> DomainEvent | None:
    """The domain event a history line is, if any (``entered``, ``dispatched``, SLA levels and
    the rest are internal: ``None``). A move is an ``action`` that names where it leads (``to``);
    an ``accept`` (which moves nothing) is not one."""
    line = stored.event
    changes = line.changes or {}
    node = line.node or ""
    common = (stored.tenant, stored.key, line.at)
    if line.kind == "created":
        fields = changes.get("fields") or {}
        data: _Data = TicketCreated(
            ticket_id=stored.ticket_id,
            node=node,
            actor=line.actor,
            fields=fields,
            ticket_version=line.version,
        )
        return _made("ticket.created", *common, data)
    if line.kind == "action" and isinstance(changes.get("to"), str):
        data = TicketMoved(
            ticket_id=stored.ticket_id,
            from_node=node,
            to_node=changes["to"],
            action=line.action or "",
            actor=line.actor,
            fields=changes.get("fields") or {},
            ticket_version=line.version,
        )
        return _made("ticket.moved", *common, data)
    if line.kind == "closed":
        data = TicketClosed(ticket_id=stored.ticket_id, node=node, ticket_version=line.version)
        return _made("ticket.closed", *common, data)
    if line.kind == "failed":
        reason = str(changes.get("reason") or "")
        data = TicketFailed(ticket_id=stored.ticket_id, node=node, reason=reason, ticket_version=line.version)
        return _made("ticket.failed", *common, data)
    return None


def settlement_event(key: tuple[str, str], record: SettlementRecord) -> DomainEvent:
    """``settlement.posted`` of a settlement record (its sequence > 1: a rework adjustment, whose
    figures are the new totals, not the difference)."""
    priced = record.settlement or {}
    data = SettlementPosted(
        ticket_id=record.ticket_id,
        sequence=record.sequence,
        kind="settlement" if record.sequence == 1 else "adjustment",
        technician=record.technician,
        period=record.period,
        completed_at=record.completed_at,
        settled_at=record.settled_at,
        currency=priced.get("currency"),
        total=Decimal(str(priced.get("total", "0"))),
        installer_earnings=Decimal(str(priced.get("installer_earnings", "0"))),
    )
    return _made("settlement.posted", record.tenant, key, record.settled_at, data)


def _made(name: str, tenant: str, key: tuple[str, str], at: datetime, data: _Data) -> DomainEvent:
    return make_event(name, tenant, (tenant, name, *key), at, data)
