"""Settlement logic: price a finished ticket once per visit and record it (statements and reports:
``reports.py``).

Pure Python: the ticket store and the ledger come in as arguments (``ports.py``; handlers build them,
tests pass fakes). Pricing rules live in ``pricing.py``; this module decides *what* is priced and *how it is
recorded*:

- the **visit** of the settlement node is named by the human action that led to it (the last
  ``action`` event of the ticket's history); settling the same visit again changes nothing and
  returns the record written the first time;
- a **rework** (the ticket comes back to the settlement node after another action) gets a new
  record whose adjustment is the new settlement minus the previous one; the ledger and the revenue
  aggregates receive the differences, so Σ ledger == the latest earnings and Σ revenue == the
  latest total;
- a ticket the catalog cannot price is marked ``failed`` with the reason, and ``PricingError``
  is raised so the execution fails visibly.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from functions.settlement.ports import Deps
from functions.settlement.pricing import PricingError, PricingInput, Settlement, price
from functions.settlement.reports import period_of
from shared.clock import now
from shared.domain.failures import mark_failed
from shared.domain.ticket import Ticket, TicketEvent
from shared.errors import Conflict
from shared.repositories.catalogs import PricingSnapshot
from shared.repositories.ledger import (
    GroupAmount,
    LedgerEntry,
    RevenueChange,
    SettlementRecord,
)
from shared.tenant.models import TenantConfig

SYSTEM = "system"
NO_CHANNEL = "none"
_ATTEMPTS = 6


@dataclass(frozen=True)
class Settled:
    record: SettlementRecord
    created: bool
    """False when this visit had been settled before (a replay): nothing was written."""


# --------------------------------------------------------------------------- settle


def settle(deps: Deps, cfg: TenantConfig, ticket_id: str, node_name: str) -> Settled:
    """Settle the ticket's current visit of ``node_name`` (idempotent); see the module notes."""
    tenant = cfg.tenant.id
    for attempt in range(_ATTEMPTS):
        if attempt:
            time.sleep(random.uniform(0, 0.02 * 2**attempt))  # concurrent writers of hot aggregates
        ticket = deps.tickets.get(tenant, ticket_id)
        visit, completed_at = _visit(cfg, ticket, deps.tickets.history(tenant, ticket_id))
        existing = deps.ledger.settlements(tenant, ticket_id)
        done = next((r for r in existing if r.visit == visit), None)
        if done is not None:
            _put_summary(deps, cfg, ticket_id, node_name, done)
            return Settled(done, created=False)
        try:
            technician, priced = _price(deps, cfg, ticket, completed_at)
        except PricingError as exc:
            _fail(deps, ticket_id, tenant, node_name, f"settlement failed: {exc.message}")
            raise
        previous = max(existing, key=lambda r: r.sequence, default=None)
        record = _record(cfg, ticket, visit, technician, completed_at, priced, previous)
        try:
            deps.ledger.record(record, _ledger_entries(record, previous), _changes(record, previous))
        except Conflict:
            continue  # a concurrent settle of this ticket (or of the same aggregates): read again
        _put_summary(deps, cfg, ticket_id, node_name, record)
        return Settled(record, created=True)
    raise Conflict(f"could not settle ticket {ticket_id}: its settlement records kept changing")


def _visit(cfg: TenantConfig, ticket: Ticket, history: list[TicketEvent]) -> tuple[str, datetime]:
    """(visit key, completion time): the last human action before the settlement node."""
    nodes = cfg.ticket_types[ticket.type].nodes
    actions = [e for e in history if e.kind == "action" and e.node in nodes and nodes[e.node].kind == "human"]
    if not actions:
        return "start", ticket.created_at
    last = actions[-1]
    return f"action-v{last.version}", last.at


def _pricing_snapshot(deps: Deps, cfg: TenantConfig, ticket: Ticket) -> PricingSnapshot:
    """The catalog (and regions) of the version the ticket was created under (``ticket.catalog_version``)."""
    pinned = ticket.catalog_version
    if not pinned:
        return PricingSnapshot.of(cfg)  # a ticket from before versions were pinned: today's catalog
    stored = deps.catalogs.get(cfg.tenant.id, pinned) if deps.catalogs is not None else None
    if stored is not None:
        return stored
    if pinned == cfg.catalog.version:
        return PricingSnapshot.of(cfg)
    raise PricingError(
        f"ticket {ticket.id} was created under catalog version {pinned!r}, which is neither stored nor "
        f"the tenant's current version {cfg.catalog.version!r}; it cannot be priced with the prices it "
        "was created under"
    )


def region_of(cfg: TenantConfig, ticket: Ticket) -> str | None:
    """The ticket's region: its field of type ``region`` (whatever the tenant called it)."""
    name = cfg.ticket_types[ticket.type].field_of_type("region", "region")
    value = ticket.fields.get(name) if name else None
    return value if isinstance(value, str) else None


def _price(deps: Deps, cfg: TenantConfig, ticket: Ticket, completed_at: datetime) -> tuple[str, Settlement]:
    technician_id = (ticket.dispatch or {}).get("technician")
    if not technician_id:
        raise PricingError(f"ticket {ticket.id} has no assigned technician to settle with")
    technician = next((t for t in cfg.technicians if t.id == technician_id), None)
    if technician is None:
        raise PricingError(f"technician {technician_id!r} of ticket {ticket.id} is not in the tenant file")
    region = region_of(cfg, ticket)
    if region is None:
        raise PricingError(
            f"ticket {ticket.id} has no region to price with; fill it in (PATCH /tickets/{ticket.id}/fields) "
            "and retry the ticket"
        )
    snapshot = _pricing_snapshot(deps, cfg, ticket)
    service_items, parts = _lines(cfg, ticket)
    priority = ticket.fields.get("priority")
    try:
        data = PricingInput.model_validate(
            {
                "catalog": snapshot.catalog,
                "regions": snapshot.regions,
                "timezone": snapshot.timezone,
                "currency": snapshot.currency,
                "region": region,
                "partner_type": technician.partner_type,
                "completed_at": completed_at,
                "ticket_type": ticket.type,
                "priority": str(priority) if priority is not None else None,
                "channel": ticket.channel,
                "service_items": service_items,
                "parts": parts,
            }
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise PricingError(f"ticket {ticket.id} cannot be priced: {problems}") from None
    return technician.id, price(data)


def _lines(cfg: TenantConfig, ticket: Ticket) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Service item and part lines from every field of those types (ticket fields and node forms)."""
    ticket_type = cfg.ticket_types[ticket.type]
    specs = [*ticket_type.fields, *(f for node in ticket_type.nodes.values() for f in node.form)]
    names = {
        kind: list(dict.fromkeys(f.name for f in specs if f.type == kind))
        for kind in ("service_items", "parts")
    }
    out: dict[str, list[dict[str, Any]]] = {"service_items": [], "parts": []}
    for kind, key in (("service_items", "code"), ("parts", "sku")):
        for name in names[kind] or [kind]:
            value = ticket.fields.get(name) or []
            if not isinstance(value, list):
                raise PricingError(f"field {name!r} of ticket {ticket.id} is not a list of lines")
            for line in value:
                if not isinstance(line, dict) or key not in line:
                    raise PricingError(f"field {name!r} of ticket {ticket.id} has a line without {key!r}")
                quantity = line.get("quantity", 1)
                if isinstance(quantity, float):  # JSON numbers with decimals: read as written
                    quantity = repr(quantity)
                out[kind].append({key: line[key], "quantity": quantity})
    return out["service_items"], out["parts"]


def _groups(ticket: Ticket, region: str, priced: Settlement) -> dict[str, GroupAmount]:
    """A settlement's full contribution to each revenue group (``<group_by>#<key>``)."""
    whole = GroupAmount(total=priced.total, earnings=priced.installer_earnings, count=1)
    groups = {
        f"tier#{priced.tier}": whole,
        f"region#{region}": whole,
        f"ticket_type#{ticket.type}": whole,
        f"channel#{ticket.channel or NO_CHANNEL}": whole,
    }
    # Items: each line's amount, and each surcharge as "surcharge:<code>", so Σ items == total.
    items: dict[str, Decimal] = {}
    for line in priced.lines:
        items[line.code] = items.get(line.code, Decimal(0)) + line.amount
    for surcharge in priced.surcharges:
        code = f"surcharge:{surcharge.code}"
        items[code] = items.get(code, Decimal(0)) + surcharge.amount
    for code, amount in items.items():
        groups[f"item#{code}"] = GroupAmount(total=amount, count=1)
    return groups


def _record(
    cfg: TenantConfig,
    ticket: Ticket,
    visit: str,
    technician: str,
    completed_at: datetime,
    priced: Settlement,
    previous: SettlementRecord | None,
) -> SettlementRecord:
    settlement = priced.model_dump(mode="json")
    return SettlementRecord(
        tenant=cfg.tenant.id,
        ticket_id=ticket.id,
        sequence=(previous.sequence + 1) if previous else 1,
        visit=visit,
        technician=technician,
        period=period_of(completed_at, cfg.tenant.timezone),
        completed_at=completed_at,
        settled_at=now(),
        settlement=settlement,
        adjustment=_adjustment(settlement, previous.settlement) if previous else None,
        groups=_groups(ticket, str(region_of(cfg, ticket)), priced),
    )


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def _adjustment(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """New minus previously settled, line by line (lines by kind and code, surcharges by code)."""

    def by_key(lines: Iterable[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
        return {f"{line.get('kind', 'surcharge')}:{line[key]}": line for line in lines}

    lines = []
    new_lines, old_lines = by_key(new["lines"], "code"), by_key(old["lines"], "code")
    for key in [*new_lines, *(k for k in old_lines if k not in new_lines)]:
        after, before = new_lines.get(key), old_lines.get(key)
        amount = _money(after["amount"] if after else 0) - _money(before["amount"] if before else 0)
        quantity = _money(after["quantity"] if after else 0) - _money(before["quantity"] if before else 0)
        if amount or quantity:
            code = (after or before or {})["code"]
            kind = (after or before or {})["kind"]
            lines.append({"kind": kind, "code": code, "quantity": f"{quantity:f}", "amount": f"{amount:f}"})
    surcharges = []
    new_s, old_s = by_key(new["surcharges"], "code"), by_key(old["surcharges"], "code")
    for key in [*new_s, *(k for k in old_s if k not in new_s)]:
        after, before = new_s.get(key), old_s.get(key)
        amount = _money(after["amount"] if after else 0) - _money(before["amount"] if before else 0)
        if amount:
            surcharges.append({"code": (after or before or {})["code"], "amount": f"{amount:f}"})
    return {
        "lines": lines,
        "surcharges": surcharges,
        "subtotal": f"{_money(new['subtotal']) - _money(old['subtotal']):f}",
        "total": f"{_money(new['total']) - _money(old['total']):f}",
        "installer_earnings": f"{_money(new['installer_earnings']) - _money(old['installer_earnings']):f}",
    }


def _ledger_entries(record: SettlementRecord, previous: SettlementRecord | None) -> list[LedgerEntry]:
    """The earnings ledger lines of a record: its earnings, or the difference to the previous one."""

    def entry(technician: str, amount: Decimal, total: Decimal) -> LedgerEntry:
        return LedgerEntry(
            tenant=record.tenant,
            technician=technician,
            period=record.period,
            ticket_id=record.ticket_id,
            sequence=record.sequence,
            kind="adjustment" if previous else "settlement",
            completed_at=record.completed_at,
            settled_at=record.settled_at,
            amount=amount,
            ticket_total=total,
            tier=str(record.settlement["tier"]),
            currency=str(record.settlement["currency"]),
        )

    if previous is None:
        return [entry(record.technician, record.earnings, record.total)]
    if previous.technician == record.technician:
        return [entry(record.technician, record.earnings - previous.earnings, record.total - previous.total)]
    # Reworked by someone else: the first technician gives back what they were credited.
    return [
        entry(previous.technician, -previous.earnings, -previous.total),
        entry(record.technician, record.earnings, record.total),
    ]


def _changes(record: SettlementRecord, previous: SettlementRecord | None) -> list[RevenueChange]:
    """What the revenue aggregates of the record's month receive: its groups minus the previous ones."""
    before = previous.groups if previous else {}
    changes = []
    for name in [*record.groups, *(k for k in before if k not in record.groups)]:
        after, old = record.groups.get(name, GroupAmount()), before.get(name, GroupAmount())
        change = GroupAmount(
            total=after.total - old.total,
            earnings=after.earnings - old.earnings,
            count=after.count - old.count,
        )
        if change.total or change.earnings or change.count:
            group_by, key = name.split("#", 1)
            changes.append(RevenueChange(period=record.period, group_by=group_by, key=key, change=change))
    return changes


def summary(record: SettlementRecord) -> dict[str, Any]:
    """What the ticket shows of its latest settlement (``ticket.settlement``)."""
    s = record.settlement
    return {
        "sequence": record.sequence,
        "technician": record.technician,
        "tier": s["tier"],
        "lines": s["lines"],
        "surcharges": s["surcharges"],
        "subtotal": s["subtotal"],
        "total": s["total"],
        "installer_share_percent": s["installer_share_percent"],
        "earnings": s["installer_earnings"],
        "currency": s["currency"],
        "catalog_version": s["catalog_version"],
        "period": record.period,
        "completed_at": record.completed_at.isoformat(),
        "settled_at": record.settled_at.isoformat(),
        "adjustment": record.adjustment,
    }


def _put_summary(
    deps: Deps, cfg: TenantConfig, ticket_id: str, node_name: str, record: SettlementRecord
) -> None:
    """Show the record on the ticket (retrying on version conflicts); no-op when it is there already."""
    wanted = summary(record)
    for _attempt in range(_ATTEMPTS):
        ticket = deps.tickets.get(cfg.tenant.id, ticket_id)
        shown = (ticket.settlement or {}).get("sequence")
        if shown is not None and int(shown) >= record.sequence:
            return
        visits = {**ticket.visits, node_name: ticket.visits.get(node_name, 0) + 1}
        updated = ticket.model_copy(
            update={
                "settlement": wanted,
                "node": node_name,
                "visits": visits,
                "updated_at": now(),
                "version": ticket.version + 1,
            }
        )
        event = TicketEvent(
            at=now(),
            actor=SYSTEM,
            kind="settled",
            node=node_name,
            changes={
                "sequence": record.sequence,
                "total": wanted["total"],
                "earnings": wanted["earnings"],
                "technician": record.technician,
            },
            version=updated.version,
        )
        try:
            deps.tickets.save(updated, expected_version=ticket.version, event=event)
            return
        except Conflict:
            continue
    raise Conflict(f"could not show the settlement on ticket {ticket_id}: it kept changing")


def _fail(deps: Deps, ticket_id: str, tenant: str, node_name: str, reason: str) -> None:
    """Mark the ticket failed with the reason (it must not end unpriced without a trace)."""
    mark_failed(
        deps.tickets,
        tenant,
        ticket_id,
        node_name,
        reason,
        updates={"token": None, "token_node": None, "settlement": {"error": reason}},
        attempts=_ATTEMPTS,
    )
