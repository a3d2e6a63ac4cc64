"""Settlement logic: price a finished ticket once per visit and record it (statements and reports:
``reports.py``).

Pure Python on the ports (``shared/ports.py``: the ticket store, the ledger and the catalog snapshots
come in as ``Deps``; ``wiring.py`` plugs in the repositories, tests pass fakes). Pricing rules live in
``pricing.py``, the ledger's rules in ``shared/domain/ledger.py``; this module decides *what* is priced
and *how it is recorded*:

- the **visit** of the settlement node is named by the human action that led to it (the last
  ``action`` event of the ticket's history); settling the same visit again changes nothing and
  returns the record written the first time;
- a **rework** (the ticket comes back to the settlement node after another action) gets a new
  record whose adjustment is the new settlement minus the previous one; the ledger and the revenue
  aggregates receive the differences, so Σ ledger == the latest earnings and Σ revenue == the
  latest total;
- a ticket the catalog cannot price is marked ``failed`` with the reason, and ``PricingError``
  is raised so the execution fails visibly.

The ticket changes through ``shared.ticket_updates`` only. Nothing here waits: a concurrent settle
of the same ticket shows as ``Conflict`` from the ledger, and reading again finds its record; other
writers of the same revenue aggregates are the ledger store's to wait for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from functions.settlement.currency import minor_unit
from functions.settlement.deps import Deps
from functions.settlement.pricing import PricingError, PricingInput, Settlement, price
from shared.clock import now
from shared.domain.catalog import PricingSnapshot
from shared.domain.ledger import GroupAmount, SettlementRecord, ledger_entries, period_of, revenue_changes
from shared.domain.shares import INSTALLER, Claim, Part, split
from shared.domain.ticket import Change, Ticket, TicketEvent
from shared.errors import Conflict
from shared.rules.conditions import evaluate
from shared.tenant.models import TenantConfig
from shared.ticket_updates import mark_failed, update_ticket

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
    for _attempt in range(_ATTEMPTS):
        ticket = deps.tickets.get(tenant, ticket_id)
        visit, completed_at = _visit(cfg, ticket, deps.tickets.history(tenant, ticket_id))
        existing = deps.ledger.settlements(tenant, ticket_id)
        done = next((r for r in existing if r.visit == visit), None)
        if done is not None:
            _show(deps, ticket, node_name, done)
            return Settled(done, created=False)
        try:
            technician, priced = _price(deps, cfg, ticket, completed_at)
        except PricingError as exc:
            _fail(deps, ticket, node_name, f"settlement failed: {exc.message}")
            raise
        previous = max(existing, key=lambda r: r.sequence, default=None)
        record = _record(cfg, ticket, visit, technician, completed_at, priced, previous)
        try:
            deps.ledger.record(record, ledger_entries(record, previous), revenue_changes(record, previous))
        except Conflict:
            continue  # another settle of this ticket wrote first: read again, and find its record
        _show(deps, ticket, node_name, record)
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


def _groups(ticket: Ticket, region: str, priced: Settlement, earnings: Decimal) -> dict[str, GroupAmount]:
    """A settlement's full contribution to each revenue group (``<group_by>#<key>``); ``earnings``:
    what the installer is paid (priced, less the shares taken out of it)."""
    whole = GroupAmount(total=priced.total, earnings=earnings, count=1)
    groups = {
        f"tier#{priced.tier}": whole,
        f"region#{region}": whole,
        f"tier_region#{priced.tier}|{region}": whole,  # the heat map's cell (tier and region are idents)
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
    paid = parties(cfg, ticket, technician, priced)
    installer = sum((part.amount for part in paid if part.party == INSTALLER), Decimal(0))
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
        groups=_groups(ticket, str(region_of(cfg, ticket)), priced, installer),
        parties=paid,
    )


def _subject(ticket: Ticket) -> dict[str, Any]:
    """What a share's ``when`` reads (the condition language's ``ticket.*`` paths)."""
    fields = dict(ticket.fields)
    return {
        "ticket": {
            "type": ticket.type,
            "priority": fields.get("priority"),
            "channel": ticket.channel,
            "status": ticket.status,
            "node": ticket.node,
            "fields": fields,
        }
    }


def _recipient(cfg: TenantConfig, ticket: Ticket, party: str) -> str | None:
    """Who a party is on this ticket: a user of the file, or nobody (the share is then not paid)."""
    user: str | None
    if party == "creator":
        user = ticket.created_by
    else:
        channel = cfg.channel(ticket.channel) if ticket.channel else None
        user = channel.owner if channel is not None else None
    return user if user is not None and cfg.user(user) is not None else None


def _regions(cfg: TenantConfig, ticket: Ticket) -> list[tuple[str, Decimal]]:
    """The regions a job spans (``catalog.region_split.field``) with their weights (coefficients);
    codes the file does not know, or repeated, are left out (the field is the ticket's to fill)."""
    split_by = cfg.catalog.region_split
    value = ticket.fields.get(split_by.field) if split_by is not None else None
    if not isinstance(value, list):
        return []
    out: dict[str, Decimal] = {}
    for code in value:
        region = cfg.region(code) if isinstance(code, str) else None
        if region is not None:
            out.setdefault(region.code, Decimal(region.coefficient))
    return list(out.items())


def parties(cfg: TenantConfig, ticket: Ticket, technician: str, priced: Settlement) -> list[Part]:
    """Who is paid what of the priced settlement: the installer, and each ``catalog.shares`` rule
    that holds and whose party is someone on this ticket (``shared.domain.shares.split``)."""
    subject = _subject(ticket)
    claims = []
    for rule in cfg.catalog.shares:
        recipient = _recipient(cfg, ticket, rule.party)
        if recipient is not None and (rule.when is None or evaluate(rule.when, subject)):
            claims.append(
                Claim(party=rule.party, recipient=recipient, percent=rule.percent, out_of=rule.out_of)
            )
    split_by = cfg.catalog.region_split
    return split(
        priced.total,
        technician,
        priced.installer_earnings,
        claims,
        exponent=minor_unit(priced.currency),
        remainder_to=cfg.catalog.shares_remainder_to,
        regions=_regions(cfg, ticket),
        region_remainder=split_by.remainder_to if split_by is not None else "first",
    )


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def _adjustment(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """New minus previously settled, line by line (lines by kind and code, surcharges by code)."""
    return {
        "lines": _differences(new["lines"], old["lines"], ("kind", "code"), ("quantity", "amount")),
        "surcharges": _differences(new["surcharges"], old["surcharges"], ("code",), ("amount",)),
        **{
            name: f"{_money(new[name]) - _money(old[name]):f}"
            for name in ("subtotal", "total", "installer_earnings")
        },
    }


def _differences(
    new: Iterable[dict[str, Any]], old: Iterable[dict[str, Any]], key: Sequence[str], amounts: Sequence[str]
) -> list[dict[str, Any]]:
    """``new`` minus ``old``, matching lines by ``key``: the lines whose ``amounts`` changed (the new
    lines in their order, then the ones that are gone), with the differences as decimal strings."""

    def by_key(lines: Iterable[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
        return {tuple(line[k] for k in key): line for line in lines}

    after_by, before_by = by_key(new), by_key(old)
    out = []
    for found in [*after_by, *(k for k in before_by if k not in after_by)]:
        after, before = after_by.get(found, {}), before_by.get(found, {})
        change = {name: _money(after.get(name, 0)) - _money(before.get(name, 0)) for name in amounts}
        if any(change.values()):
            out.append({**dict(zip(key, found, strict=True)), **{n: f"{v:f}" for n, v in change.items()}})
    return out


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
        "earnings": s["installer_earnings"] if not record.parties else f"{record.earnings:f}",
        "parties": [part.model_dump(mode="json") for part in record.parts],
        "currency": s["currency"],
        "catalog_version": s["catalog_version"],
        "period": record.period,
        "completed_at": record.completed_at.isoformat(),
        "settled_at": record.settled_at.isoformat(),
        "adjustment": record.adjustment,
    }


def _show(deps: Deps, ticket: Ticket, node_name: str, record: SettlementRecord) -> None:
    """Show the record on the ticket (``ticket``: as read); nothing when it shows it (or a later one)."""
    wanted = summary(record)

    def decide(current: Ticket) -> Change | None:
        shown = (current.settlement or {}).get("sequence")
        if shown is not None and int(shown) >= record.sequence:
            return None
        visits = {**current.visits, node_name: current.visits.get(node_name, 0) + 1}
        return Change(
            kind="settled",
            update={"settlement": wanted, "node": node_name, "visits": visits},
            node=node_name,
            changes={
                "sequence": record.sequence,
                "total": wanted["total"],
                "earnings": wanted["earnings"],
                "technician": record.technician,
            },
        )

    update_ticket(deps.tickets, ticket.tenant, ticket.id, decide, read=ticket)


def _fail(deps: Deps, ticket: Ticket, node_name: str, reason: str) -> None:
    """Mark the ticket failed with the reason (it must not end unpriced without a trace)."""
    updates = {"token": None, "token_node": None, "settlement": {"error": reason}}
    mark_failed(deps.tickets, ticket.tenant, ticket.id, node_name, reason, updates=updates)
