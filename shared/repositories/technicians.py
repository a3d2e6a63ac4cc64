"""The technician registry: records, exact open-ticket load, recent assignments.

Access patterns (all GetItem/Query/transactions, never Scan):

| pattern | key |
|---|---|
| a technician | pk=``TENANT#t#TECH#id``, sk=``TECH`` |
| a tenant's technicians, by id | gsi1: gsi1pk=``TENANT#t#TECHS``, gsi1sk=``<id>`` |
| the tickets a technician holds | pk=``TENANT#t#TECH#id``, sk begins_with ``LOAD#`` |
| was a config's roster seeded | pk=``TENANT#t#TECHSEED``, sk=``<digest of the technicians section>`` |

Load is exact: one marker item ``LOAD#<ticket id>`` per ticket a technician holds. The
transaction that raises ``load`` creates the marker (only while the technician is active and
``load < capacity``, and only together with the ticket's own conditional write), and the one
that lowers it deletes the marker (only if it exists). So a release is idempotent and the load
always equals the number of markers.

Seeding copies the tenant file's technicians into the registry with conditional puts that never
overwrite a record (changes made through ``PUT /technicians/{id}`` stay); a marker item per
digest of the technicians section makes it run once per configuration.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, cast

from pydantic import BaseModel, Field
from pynamodb.attributes import (
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import size
from pynamodb.transactions import TransactWrite

from shared.clock import iso, now
from shared.domain.ticket import Ticket, TicketEvent
from shared.errors import Conflict, NotFound
from shared.repositories.base import Gsi1, TableItem, bind, tenant_key, transaction_connection
from shared.repositories.tickets import TicketRepository
from shared.tenant.models import Technician

__all__ = [
    "FAIRNESS_WINDOW",
    "TechnicianBusy",
    "TechnicianRecord",
    "TechnicianRepository",
    "roster_digest",
]

TECH_SK = "TECH"
LOAD_PREFIX = "LOAD#"
FAIRNESS_WINDOW = timedelta(days=7)
_PRUNE_AT = 8
"""Prune assignment times older than the window once this many have piled up."""

Status = Literal["active", "off"]


class TechnicianRecord(BaseModel):
    """A technician as dispatch sees it: the tenant file's entry plus what changed since."""

    tenant: str
    id: str
    name: str
    status: Status = "active"
    skills: dict[str, int] = Field(default_factory=dict)
    regions: list[str] = Field(default_factory=list)
    capacity: int
    load: int = 0
    location: dict[str, float] | None = None
    """``{"lat": .., "lon": ..}``"""
    rating: Decimal = Decimal(0)
    calendar: str | None = None
    partner_type: str = "direct"
    supervisor: str | None = None
    phone: str | None = None
    recent: list[datetime] = Field(default_factory=list)
    """Assignment instants (UTC); may hold some older than the fairness window."""
    updated_at: datetime | None = None
    updated_by: str | None = None

    def assignments_since(self, since: datetime) -> int:
        return sum(1 for at in self.recent if at >= since)


class TechnicianBusy(Conflict):
    """The technician could not take the ticket (off, at capacity, or already holds it)."""


class TechnicianItem(TableItem):
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    by_tenant = Gsi1()

    tenant = UnicodeAttribute()
    id = UnicodeAttribute()
    status = UnicodeAttribute()
    capacity = NumberAttribute()
    load = NumberAttribute()
    skills = MapAttribute[str, Any]()
    regions = ListAttribute[str]()
    location = JSONAttribute(null=True)
    recent = ListAttribute[str](null=True)
    body = JSONAttribute()  # name, rating, calendar, partner_type, supervisor, phone
    updated_at = UTCDateTimeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)


class LoadMarkerItem(TableItem):
    ticket_id = UnicodeAttribute()
    at = UTCDateTimeAttribute()


class SeedMarkerItem(TableItem):
    at = UTCDateTimeAttribute()


def _tech_pk(tenant: str, technician_id: str) -> str:
    return tenant_key(tenant, "TECH", technician_id)


def roster_digest(technicians: Sequence[Technician]) -> str:
    text = json.dumps([t.model_dump(mode="json") for t in technicians], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _seed_item(tenant: str, tech: Technician) -> TechnicianItem:
    return TechnicianItem(
        _tech_pk(tenant, tech.id),
        TECH_SK,
        gsi1pk=tenant_key(tenant, "TECHS"),
        gsi1sk=tech.id,
        tenant=tenant,
        id=tech.id,
        status="active",
        capacity=tech.capacity,
        load=0,
        skills=dict(tech.skills),
        regions=list(tech.regions),
        location=tech.location.model_dump() if tech.location else None,
        recent=[],
        body={
            "name": tech.name,
            "rating": f"{tech.rating:f}",
            "calendar": tech.calendar,
            "partner_type": tech.partner_type,
            "supervisor": tech.supervisor,
            "phone": tech.phone,
        },
    )


def _record(item: TechnicianItem) -> TechnicianRecord:
    body: dict[str, Any] = dict(item.body or {})
    skills = item.skills.as_dict() if isinstance(item.skills, MapAttribute) else dict(item.skills or {})
    return TechnicianRecord(
        tenant=item.tenant,
        id=item.id,
        name=body.get("name") or item.id,
        status="off" if item.status == "off" else "active",
        skills={k: int(v) for k, v in skills.items()},
        regions=list(item.regions or []),
        capacity=int(item.capacity),
        load=int(item.load),
        location=item.location,
        rating=Decimal(str(body.get("rating", "0"))),
        calendar=body.get("calendar"),
        partner_type=body.get("partner_type") or "direct",
        supervisor=body.get("supervisor"),
        phone=body.get("phone"),
        recent=[datetime.fromisoformat(at.replace("Z", "+00:00")) for at in item.recent or []],
        updated_at=item.updated_at,
        updated_by=item.updated_by,
    )


class TechnicianRepository:
    """The only place that knows how technicians and their load are keyed and stored.

    Implements the ``shared.ports.Workload`` port (``release``).
    """

    def __init__(self, tickets: TicketRepository | None = None) -> None:
        bind(TechnicianItem, LoadMarkerItem, SeedMarkerItem)
        self._tickets = tickets or TicketRepository()
        self._connection = transaction_connection()
        self._seeded: set[tuple[str, str]] = set()

    # ----------------------------------------------------------------- seeding

    def ensure_seeded(self, tenant: str, technicians: Sequence[Technician]) -> None:
        """Copy the tenant file's technicians in once per roster; never overwrite a record."""
        digest = roster_digest(technicians)
        if (tenant, digest) in self._seeded:
            return
        marker_pk = tenant_key(tenant, "TECHSEED")
        try:
            SeedMarkerItem.get(marker_pk, digest, consistent_read=True)
        except DoesNotExist:
            for tech in technicians:
                try:
                    _seed_item(tenant, tech).save(condition=TechnicianItem.pk.does_not_exist())
                except PutError as exc:
                    if exc.cause_response_code != "ConditionalCheckFailedException":
                        raise
            SeedMarkerItem(marker_pk, digest, at=now()).save()
        self._seeded.add((tenant, digest))

    # ----------------------------------------------------------------- reading

    def roster(self, tenant: str) -> list[TechnicianRecord]:
        """Every technician of the tenant, by id."""
        items = TechnicianItem.by_tenant.query(tenant_key(tenant, "TECHS"))
        return [_record(cast(TechnicianItem, item)) for item in items]

    def get(self, tenant: str, technician_id: str) -> TechnicianRecord:
        try:
            return _record(TechnicianItem.get(_tech_pk(tenant, technician_id), TECH_SK, consistent_read=True))
        except DoesNotExist:
            raise NotFound(f"technician '{technician_id}' does not exist") from None

    def holdings(self, tenant: str, technician_id: str) -> list[str]:
        """Ids of the tickets the technician holds (the load markers)."""
        items = LoadMarkerItem.query(
            _tech_pk(tenant, technician_id), LoadMarkerItem.sk.startswith(LOAD_PREFIX), consistent_read=True
        )
        return [item.ticket_id for item in items]

    # ----------------------------------------------------------------- changing a record

    def update(
        self,
        tenant: str,
        technician_id: str,
        changes: dict[str, Any],
        *,
        actor: str,
    ) -> TechnicianRecord:
        """Set some of status, skills, regions, capacity, location (never load or history)."""
        actions: list[Any] = []
        for name, value in changes.items():
            if name not in ("status", "skills", "regions", "capacity", "location"):
                raise ValueError(f"{name} cannot be changed here")
            attribute = getattr(TechnicianItem, name)
            actions.append(
                attribute.remove() if value is None and name == "location" else attribute.set(value)
            )
        actions.append(TechnicianItem.updated_at.set(now()))
        actions.append(TechnicianItem.updated_by.set(actor))
        item = TechnicianItem(_tech_pk(tenant, technician_id), TECH_SK)
        try:
            item.update(actions=actions, condition=TechnicianItem.pk.exists())
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise NotFound(f"technician '{technician_id}' does not exist") from None
            raise
        return self.get(tenant, technician_id)

    # ----------------------------------------------------------------- load

    def assign(
        self,
        technician: TechnicianRecord,
        ticket: Ticket,
        *,
        expected_version: int,
        event: TicketEvent,
    ) -> None:
        """One transaction: load +1 (active, below capacity), marker put, ticket saved at its version.

        ``TechnicianBusy`` when the technician's side refused, ``Conflict`` when the ticket changed.
        """
        at = event.at
        tech_pk = _tech_pk(technician.tenant, technician.id)
        cutoff = at - FAIRNESS_WINDOW
        stale = sum(1 for t in technician.recent if t < cutoff)
        guard = (TechnicianItem.status == "active") & (TechnicianItem.load < TechnicianItem.capacity)
        actions: list[Any] = [TechnicianItem.load.add(1)]
        if stale >= _PRUNE_AT:
            kept = [iso(t) for t in technician.recent if t >= cutoff]
            actions.append(TechnicianItem.recent.set([*kept, iso(at)]))
            guard = guard & (size(TechnicianItem.recent) == len(technician.recent))
        else:
            actions.append(TechnicianItem.recent.set((TechnicianItem.recent | []).append([iso(at)])))
        marker = LoadMarkerItem(tech_pk, LOAD_PREFIX + ticket.id, ticket_id=ticket.id, at=at)
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.update(TechnicianItem(tech_pk, TECH_SK), actions=actions, condition=guard)
                tx.save(marker, condition=LoadMarkerItem.pk.does_not_exist())
                self._tickets.save_in(tx, ticket, expected_version=expected_version, event=event)
        except TransactWriteError as exc:
            if exc.cause_response_code != "TransactionCanceledException":
                raise
            reasons = [r.code if r else None for r in exc.cancellation_reasons]
            if len(reasons) >= 3 and reasons[2] == "ConditionalCheckFailed":
                raise Conflict(f"ticket {ticket.id} changed meanwhile") from exc
            raise TechnicianBusy(f"technician {technician.id} cannot take ticket {ticket.id}") from exc

    def take(self, technician_id: str, ticket: Ticket, *, expected_version: int, event: TicketEvent) -> None:
        """Manual dispatch: the same transaction as ``assign``, for a technician a person chose."""
        record = self.get(ticket.tenant, technician_id)
        try:
            self.assign(record, ticket, expected_version=expected_version, event=event)
        except TechnicianBusy:
            if self._holds(ticket.tenant, technician_id, ticket.id):
                # Chosen again while still holding it (a technician's node sent it straight to manual
                # dispatch): their load already counts it; only the ticket changes.
                self._tickets.save(ticket, expected_version=expected_version, event=event)
                return
            raise TechnicianBusy(
                f"technician {technician_id} cannot take more tickets now "
                f"(status {record.status}, load {record.load} of {record.capacity})"
            ) from None

    def _holds(self, tenant: str, technician_id: str, ticket_id: str) -> bool:
        try:
            LoadMarkerItem.get(_tech_pk(tenant, technician_id), LOAD_PREFIX + ticket_id, consistent_read=True)
        except LoadMarkerItem.DoesNotExist:
            return False
        return True

    def release(self, tenant: str, technician_id: str, ticket_id: str) -> None:
        """The ticket left the technician: delete its marker and lower the load, once."""
        self.release_once(tenant, technician_id, ticket_id)

    def release_once(self, tenant: str, technician_id: str, ticket_id: str) -> bool:
        """Like ``release``; ``True`` when this call lowered the load."""
        tech_pk = _tech_pk(tenant, technician_id)
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.delete(
                    LoadMarkerItem(tech_pk, LOAD_PREFIX + ticket_id),
                    condition=LoadMarkerItem.pk.exists(),
                )
                tx.update(
                    TechnicianItem(tech_pk, TECH_SK),
                    actions=[TechnicianItem.load.add(-1)],
                    condition=TechnicianItem.pk.exists(),
                )
        except TransactWriteError as exc:
            if exc.cause_response_code != "TransactionCanceledException":
                raise
            reasons = [r.code if r else None for r in exc.cancellation_reasons]
            if not reasons or reasons[0] == "ConditionalCheckFailed":
                return False  # not held (already released, or never assigned)
            raise
        return True
