"""The technician registry in the single table: records, exact open-ticket load, seeding markers.

Access patterns (all GetItem/Query/transactions, never Scan):

| pattern | key |
|---|---|
| a technician | pk=``TENANT#t#TECH#id``, sk=``TECH`` |
| a tenant's technicians, by id | gsi1: gsi1pk=``TENANT#t#TECHS``, gsi1sk=``<id>`` |
| the technicians covering a region, by id | gsi2: gsi2pk=``TENANT#t#TECHS#REGION#<code>``, gsi2sk=``<id>`` |
| the tickets a technician holds | pk=``TENANT#t#TECH#id``, sk begins_with ``LOAD#`` |
| was a config's roster seeded | pk=``TENANT#t#TECHSEED``, sk=``<digest of the technicians section>`` |

Dispatch reads only the ticket's region: the region's collection in ``gsi2``. The record
(sk ``TECH``) is in the collection of the technician's first (home) region; a technician who covers
more regions has a copy per further region (sk ``REGION#<code>``, every attribute of the record,
no ``gsi1`` keys so the tenant's list shows them once). Copies are kept equal to the record by the
writes themselves, never after the fact: every write of the record is a transaction that writes the
copies too, conditioned on the record still having the regions (and, for a change of the record,
the load and assignments) the copies were derived from; a write that finds them changed is retried
on a fresh read. A single-region technician (the usual case) has no copy and costs nothing more.

Load is exact: one marker item ``LOAD#<ticket id>`` per ticket a technician holds. The
transaction that raises ``load`` creates the marker (only while the technician has room, and only
together with the ticket's own conditional write), and the one that lowers it deletes the marker
(only if it exists). So a release is idempotent and the load always equals the number of markers.

The rules (``has_room``, the fairness window's pruning, what seeding writes) are the domain's
(``shared/domain/technician.py``); this module turns them into conditions and transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
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
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.expressions.condition import size
from pynamodb.transactions import TransactWrite

from shared.clock import iso, now
from shared.domain.technician import (
    Assignment,
    Roster,
    RosterCache,
    TechnicianRecord,
    assignment,
    roster_digest,
    seeding,
)
from shared.errors import Conflict, NotFound, TechnicianBusy
from shared.repositories.base import Gsi1, Gsi2, TableItem, bind, tenant_key, transaction_connection
from shared.repositories.tickets import TicketRepository

if TYPE_CHECKING:
    from shared.domain.ticket import Ticket, TicketEvent
    from shared.tenant.models import Technician

__all__ = ["TechnicianRepository", "roster_digest"]
"""``roster_digest`` is the domain's; still importable from here for the deploy (``infra/constructs``)."""

TECH_SK = "TECH"
COPY_PREFIX = "REGION#"
LOAD_PREFIX = "LOAD#"
_ATTEMPTS = 5
"""Reads and writes again when a concurrent change of the record's regions (or, for a change of the
record, its load) refused a write: then ``Conflict``."""
CHANGEABLE = ("status", "skills", "regions", "capacity", "location")
"""What ``PUT /technicians/{id}`` may set (never load or the assignment history)."""


class TechnicianItem(TableItem):
    gsi1pk = UnicodeAttribute(null=True)  # the record only
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)  # the record (home region) and each copy (its region)
    gsi2sk = UnicodeAttribute(null=True)
    by_tenant = Gsi1()
    by_region = Gsi2()

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


def _region_key(tenant: str, region: str) -> str:
    return tenant_key(tenant, "TECHS", "REGION", region)


def _copies(regions: Sequence[str]) -> list[str]:
    """The regions a technician has a copy for: every one but the first (the record's own)."""
    return list(dict.fromkeys(regions))[1:]


def _item(record: TechnicianRecord, region: str | None = None) -> TechnicianItem:
    """The record's item, or (``region``) its copy in that region's collection."""
    collection = region or (record.regions[0] if record.regions else None)
    return TechnicianItem(
        _tech_pk(record.tenant, record.id),
        TECH_SK if region is None else COPY_PREFIX + region,
        gsi1pk=tenant_key(record.tenant, "TECHS") if region is None else None,
        gsi1sk=record.id if region is None else None,
        gsi2pk=_region_key(record.tenant, collection) if collection else None,
        gsi2sk=record.id if collection else None,
        tenant=record.tenant,
        id=record.id,
        status=record.status,
        capacity=record.capacity,
        load=record.load,
        skills=dict(record.skills),
        regions=list(record.regions),
        location=record.location,
        recent=[iso(at) for at in record.recent],
        updated_at=record.updated_at,
        updated_by=record.updated_by,
        body={
            "name": record.name,
            "rating": f"{record.rating:f}",
            "calendar": record.calendar,
            "partner_type": record.partner_type,
            "supervisor": record.supervisor,
            "phone": record.phone,
        },
    )


def _fields(item: TechnicianItem) -> dict[str, Any]:
    """The values of the item's ``TechnicianRecord``, typed as the model holds them."""
    body: dict[str, Any] = dict(item.body or {})
    skills = item.skills.as_dict() if isinstance(item.skills, MapAttribute) else dict(item.skills or {})
    return {
        "tenant": item.tenant,
        "id": item.id,
        "name": body.get("name") or item.id,
        "status": "off" if item.status == "off" else "active",
        "skills": {k: int(v) for k, v in skills.items()},
        "regions": list(item.regions or []),
        "capacity": int(item.capacity),
        "load": int(item.load),
        "location": item.location,
        "rating": Decimal(str(body.get("rating", "0"))),
        "calendar": body.get("calendar"),
        "partner_type": body.get("partner_type") or "direct",
        "supervisor": body.get("supervisor"),
        "phone": body.get("phone"),
        "recent": [datetime.fromisoformat(at.replace("Z", "+00:00")) for at in item.recent or []],
        "updated_at": item.updated_at,
        "updated_by": item.updated_by,
    }


def _record(item: TechnicianItem) -> TechnicianRecord:
    return _build(_fields(item))


def _build(fields: dict[str, Any]) -> TechnicianRecord:
    return TechnicianRecord(**fields)


def _is_list(attribute: Any, values: Sequence[str]) -> Any:
    """The condition that a list attribute holds exactly ``values`` (absent when empty)."""
    if not values:
        return attribute.does_not_exist() | (size(attribute) == 0)
    return attribute == list(values)


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
        self._layouts = RosterCache()
        """The static facts of the rosters this container read (``RosterCache``), so a dispatch
        lays out only loads and assignment instants while nobody changed a record."""

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
                self._seed(record)
            SeedMarkerItem(marker_pk, seed.digest, at=now()).save()
        self._seeded.add((tenant, seed.digest))

    def _seed(self, record: TechnicianRecord) -> None:
        """Add the record (and its copies) unless the technician has one already."""
        copies = _copies(record.regions)
        if not copies:
            try:
                _item(record).save(condition=TechnicianItem.pk.does_not_exist())
            except PutError as exc:
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise
            return
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(_item(record), condition=TechnicianItem.pk.does_not_exist())
                for region in copies:
                    tx.save(_item(record, region))
        except TransactWriteError as exc:
            reasons = _cancelled(exc)
            if not reasons or reasons[0] != "ConditionalCheckFailed":
                raise

    # ----------------------------------------------------------------- reading

    def roster(self, tenant: str, region: str | None = None) -> Roster:
        """The technicians covering ``region`` (one index partition), or every technician of the
        tenant without one; by id."""
        if region is None:
            items = TechnicianItem.by_tenant.query(tenant_key(tenant, "TECHS"))
        else:
            items = TechnicianItem.by_region.query(_region_key(tenant, region))
        # the records' values, laid out for ranking; a record is built only when it is read
        fields = [_fields(cast(TechnicianItem, item)) for item in items]
        return Roster.of_fields(fields, _build, cache=self._layouts, key=(tenant, region))

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
        """Set some of status, skills, regions, capacity, location (never load or history), on the
        record and its copies in one transaction; copies follow a change of regions."""
        for name in changes:
            if name not in CHANGEABLE:
                raise ValueError(f"{name} cannot be changed here")
        for _attempt in range(_ATTEMPTS):
            read = self.get(tenant, technician_id)
            at = now()
            if read.updated_at is not None and at <= read.updated_at:
                # every change gets a new stamp, even on a stopped clock: the rosters' caches
                # (``RosterCache``) know a record changed by its (id, updated_at)
                at = read.updated_at + timedelta(microseconds=1)
            changed = read.model_copy(update={**changes, "updated_at": at, "updated_by": actor})
            if self._rewrite(read, changed):
                return self.get(tenant, technician_id)
        raise Conflict(f"technician '{technician_id}' kept changing; try again")

    def _rewrite(self, read: TechnicianRecord, changed: TechnicianRecord) -> bool:
        """Write ``changed`` over the record as ``read`` (with its copies); ``False`` when the record
        changed meanwhile (an assignment, a release, another change)."""
        tech_pk = _tech_pk(read.tenant, read.id)
        record = _item(changed)
        same = (
            TechnicianItem.pk.exists()
            & (TechnicianItem.load == read.load)
            & _is_list(TechnicianItem.regions, read.regions)
            & _is_list(TechnicianItem.recent, [iso(at) for at in read.recent])
        )
        actions: list[Any] = []
        for name in (*CHANGEABLE, "gsi2pk", "gsi2sk", "updated_at", "updated_by"):
            attribute, value = getattr(TechnicianItem, name), getattr(record, name)
            actions.append(attribute.remove() if value is None else attribute.set(value))
        before, after = _copies(read.regions), _copies(changed.regions)
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.update(TechnicianItem(tech_pk, TECH_SK), actions=actions, condition=same)
                for region in after:
                    tx.save(_item(changed, region))
                for region in before:
                    if region not in after:
                        tx.delete(TechnicianItem(tech_pk, COPY_PREFIX + region))
        except TransactWriteError as exc:
            reasons = _cancelled(exc)
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return False
            raise
        return True

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
        room = (
            (TechnicianItem.status == "active")
            & (TechnicianItem.load < TechnicianItem.capacity)
            & _is_list(TechnicianItem.regions, assignment.regions)  # the copies below are the record's
        )
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
                for region in _copies(assignment.regions):
                    tx.update(
                        TechnicianItem(tech_pk, COPY_PREFIX + region),
                        actions=[TechnicianItem.load.add(1), recent],
                        condition=TechnicianItem.pk.exists(),
                    )
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
        """Like ``release``; ``True`` when this call lowered the load (the technician held the ticket).

        First as for a technician without copies (no read); a technician with copies (or whose
        regions changed meanwhile) is read and released with their copies.
        """
        regions: list[str] | None = None  # not read yet: assume no copies
        for _attempt in range(_ATTEMPTS):
            released = self._release(tenant, technician_id, ticket_id, regions)
            if released is not None:
                return released
            try:
                regions = self.get(tenant, technician_id).regions
            except NotFound:
                return False
        raise Conflict(f"technician '{technician_id}' kept changing; try again")

    def _release(
        self, tenant: str, technician_id: str, ticket_id: str, regions: list[str] | None
    ) -> bool | None:
        """One try: ``True`` released, ``False`` not held, ``None`` the record's regions are not
        ``regions`` (``None``: has copies), so the copies to lower are not known."""
        tech_pk = _tech_pk(tenant, technician_id)
        if regions is None:
            same = TechnicianItem.pk.exists() & (size(TechnicianItem.regions) <= 1)
        else:
            same = TechnicianItem.pk.exists() & _is_list(TechnicianItem.regions, regions)
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.delete(
                    LoadMarkerItem(tech_pk, LOAD_PREFIX + ticket_id),
                    condition=LoadMarkerItem.pk.exists(),
                )
                tx.update(
                    TechnicianItem(tech_pk, TECH_SK), actions=[TechnicianItem.load.add(-1)], condition=same
                )
                for region in _copies(regions or []):
                    tx.update(
                        TechnicianItem(tech_pk, COPY_PREFIX + region),
                        actions=[TechnicianItem.load.add(-1)],
                        condition=TechnicianItem.pk.exists(),
                    )
        except TransactWriteError as exc:
            reasons = _cancelled(exc)
            if not reasons or reasons[0] == "ConditionalCheckFailed":
                return False  # not held (already released, or never assigned)
            if reasons[1] == "ConditionalCheckFailed":
                return None
            raise
        return True
