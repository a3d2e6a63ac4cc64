"""The technician registry in the single table: records, exact open-ticket load, seeding markers.

Access patterns (all GetItem/Query/transactions, never Scan):

| pattern | key |
|---|---|
| a technician | pk=``TENANT#t#TECH#id``, sk=``TECH`` |
| a tenant's technicians, by id | gsi1: gsi1pk=``TENANT#t#TECHS``, gsi1sk=``<id>`` |
| the tickets a technician holds | pk=``TENANT#t#TECH#id``, sk begins_with ``LOAD#`` |
| was a config's roster seeded | pk=``TENANT#t#TECHSEED``, sk=``<digest of the technicians section>`` |

Load is exact: one marker item ``LOAD#<ticket id>`` per ticket a technician holds. The
transaction that raises ``load`` creates the marker (only while the technician has room, and only
together with the ticket's own conditional write), and the one that lowers it deletes the marker
(only if it exists). So a release is idempotent and the load always equals the number of markers.

The rules (``has_room``, the fairness window's pruning, what seeding writes) are the domain's
(``shared/domain/technician.py``); this module turns them into conditions and transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

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
from shared.domain.technician import Assignment, TechnicianRecord, assignment, roster_digest, seeding
from shared.errors import Conflict, NotFound, TechnicianBusy
from shared.repositories.base import Gsi1, TableItem, bind, tenant_key, transaction_connection
from shared.repositories.tickets import TicketRepository

if TYPE_CHECKING:
    from shared.domain.ticket import Ticket, TicketEvent
    from shared.tenant.models import Technician

__all__ = ["TechnicianRepository", "roster_digest"]
"""``roster_digest`` is the domain's; still importable from here for the deploy (``infra/constructs``)."""

TECH_SK = "TECH"
LOAD_PREFIX = "LOAD#"
CHANGEABLE = ("status", "skills", "regions", "capacity", "location")
"""What ``PUT /technicians/{id}`` may set (never load or the assignment history)."""


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


def _item(record: TechnicianRecord) -> TechnicianItem:
    return TechnicianItem(
        _tech_pk(record.tenant, record.id),
        TECH_SK,
        gsi1pk=tenant_key(record.tenant, "TECHS"),
        gsi1sk=record.id,
        tenant=record.tenant,
        id=record.id,
        status=record.status,
        capacity=record.capacity,
        load=record.load,
        skills=dict(record.skills),
        regions=list(record.regions),
        location=record.location,
        recent=[iso(at) for at in record.recent],
        body={
            "name": record.name,
            "rating": f"{record.rating:f}",
            "calendar": record.calendar,
            "partner_type": record.partner_type,
            "supervisor": record.supervisor,
            "phone": record.phone,
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


def _cancelled(exc: TransactWriteError) -> list[str | None]:
    """Why each item of a cancelled transaction was refused; re-raises any other failure."""
    if exc.cause_response_code != "TransactionCanceledException":
        raise exc
    return [r.code if r else None for r in exc.cancellation_reasons]


class TechnicianRepository:
    """The only place that knows how technicians and their load are keyed and stored.

    Implements the ``shared.ports.TechnicianStore`` port (and so ``Workload``).
    """

    def __init__(self, tickets: TicketRepository | None = None) -> None:
        bind(TechnicianItem, LoadMarkerItem, SeedMarkerItem)
        self._tickets = tickets or TicketRepository()
        self._connection = transaction_connection()
        self._seeded: set[tuple[str, str]] = set()

    # ----------------------------------------------------------------- seeding

    def ensure_seeded(self, tenant: str, technicians: Sequence[Technician]) -> None:
        """Seed the tenant file's technicians (``shared.domain.technician.seeding``) once per roster:
        conditional puts that never overwrite a record, then the roster's marker."""
        seed = seeding(tenant, technicians)
        if (tenant, seed.digest) in self._seeded:
            return
        marker_pk = tenant_key(tenant, "TECHSEED")
        try:
            SeedMarkerItem.get(marker_pk, seed.digest, consistent_read=True)
        except DoesNotExist:
            for record in seed.records:
                try:
                    _item(record).save(condition=TechnicianItem.pk.does_not_exist())
                except PutError as exc:
                    if exc.cause_response_code != "ConditionalCheckFailedException":
                        raise
            SeedMarkerItem(marker_pk, seed.digest, at=now()).save()
        self._seeded.add((tenant, seed.digest))

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
            if name not in CHANGEABLE:
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
        assignment: Assignment,
        ticket: Ticket,
        *,
        expected_version: int,
        event: TicketEvent | None,
    ) -> None:
        """One transaction: the assignment (load +1 while the technician has room, the instant kept,
        the marker put) and the ticket saved at ``expected_version``.

        ``TechnicianBusy`` when the technician's side refused, ``Conflict`` when the ticket changed.
        """
        tech_pk = _tech_pk(assignment.tenant, assignment.technician)
        room = (TechnicianItem.status == "active") & (TechnicianItem.load < TechnicianItem.capacity)
        if assignment.recent is None:
            recent = TechnicianItem.recent.set((TechnicianItem.recent | []).append([iso(assignment.at)]))
        else:
            recent = TechnicianItem.recent.set([iso(at) for at in assignment.recent])
            room = room & (size(TechnicianItem.recent) == assignment.recent_read)
        marker = LoadMarkerItem(tech_pk, LOAD_PREFIX + ticket.id, ticket_id=ticket.id, at=assignment.at)
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.update(
                    TechnicianItem(tech_pk, TECH_SK),
                    actions=[TechnicianItem.load.add(1), recent],
                    condition=room,
                )
                tx.save(marker, condition=LoadMarkerItem.pk.does_not_exist())
                self._tickets.save_in(tx, ticket, expected_version=expected_version, event=event)
        except TransactWriteError as exc:
            reasons = _cancelled(exc)
            if len(reasons) >= 3 and reasons[2] == "ConditionalCheckFailed":
                raise Conflict(f"ticket {ticket.id} changed meanwhile") from exc
            raise TechnicianBusy(
                f"technician {assignment.technician} cannot take ticket {ticket.id}"
            ) from exc

    def take(self, technician_id: str, ticket: Ticket, *, expected_version: int, event: TicketEvent) -> None:
        """Manual dispatch: ``assign`` for a technician a person chose; one who still holds the ticket
        (a technician's node sent it straight to manual dispatch) takes it again at no extra load."""
        record = self.get(ticket.tenant, technician_id)
        try:
            self.assign(assignment(record, event.at), ticket, expected_version=expected_version, event=event)
        except TechnicianBusy:
            if not self._retake(technician_id, ticket, expected_version=expected_version, event=event):
                raise TechnicianBusy(
                    f"technician {technician_id} cannot take more tickets now "
                    f"(status {record.status}, load {record.load} of {record.capacity})"
                ) from None

    def _retake(
        self, technician_id: str, ticket: Ticket, *, expected_version: int, event: TicketEvent
    ) -> bool:
        """Save the ticket while the technician's marker of it exists; ``False`` when it does not."""
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.condition_check(
                    LoadMarkerItem,
                    _tech_pk(ticket.tenant, technician_id),
                    LOAD_PREFIX + ticket.id,
                    condition=LoadMarkerItem.pk.exists(),
                )
                self._tickets.save_in(tx, ticket, expected_version=expected_version, event=event)
        except TransactWriteError as exc:
            reasons = _cancelled(exc)
            if len(reasons) >= 2 and reasons[1] == "ConditionalCheckFailed":
                raise Conflict(f"ticket {ticket.id} changed meanwhile") from exc
            return False
        return True

    def release(self, tenant: str, technician_id: str, ticket_id: str) -> None:
        """The ticket left the technician: delete its marker and lower the load, once."""
        self.release_once(tenant, technician_id, ticket_id)

    def release_once(self, tenant: str, technician_id: str, ticket_id: str) -> bool:
        """Like ``release``; ``True`` when this call lowered the load (the technician held the ticket)."""
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
            reasons = _cancelled(exc)
            if not reasons or reasons[0] == "ConditionalCheckFailed":
                return False  # not held (already released, or never assigned)
            raise
        return True
