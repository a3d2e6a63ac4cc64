"""Settle logic with fakes: what is priced, idempotency per visit, rework adjustments, failures, reports."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.settlement import aggregates, reports, service
from functions.settlement.deps import Deps
from functions.settlement.pricing import PricingError
from functions.settlement.schemas import revenue_csv
from shared import clock
from shared.domain.catalog import PricingSnapshot
from shared.domain.ledger import (
    REVENUE_SHARDS,
    GroupAmount,
    LedgerEntry,
    RevenueChange,
    RevenueFold,
    RevenueGroup,
    SettlementRecord,
    batch_shard,
    fold,
    shard_of,
    transactions,
)
from shared.domain.ticket import Ticket, TicketEvent
from shared.errors import Conflict, Forbidden, NotFound
from shared.identity import Caller
from shared.tenant.models import TenantConfig
from tests.factories import load_example
from tests.fakes import FakeTickets

D = Decimal
TENANT = TenantConfig.model_validate(load_example("acme-home"))
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


class FakeLedger:
    """Keeps the repository's contract: all-or-nothing, records and ledger lines never overwritten,
    each record's revenue folded into the aggregates once. The stream consumer runs at once here
    (``record`` folds what it wrote); ``stream`` keeps what the table's stream would carry, so a
    test can deliver a record again."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str, int], SettlementRecord] = {}
        self.lines: dict[tuple[str, str, str, str, int], LedgerEntry] = {}
        self.aggregates: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self.folded: set[tuple[str, str, int]] = set()
        self.stream: list[dict[str, Any]] = []
        self.writes = 0
        self._lock = threading.Lock()

    def settlements(self, tenant: str, ticket_id: str) -> list[SettlementRecord]:
        with self._lock:
            found = [r for (t, i, _), r in self.records.items() if (t, i) == (tenant, ticket_id)]
        return sorted(found, key=lambda r: r.sequence)

    def record(
        self, record: SettlementRecord, entries: list[LedgerEntry], changes: list[RevenueChange]
    ) -> None:
        with self._lock:
            key = (record.tenant, record.ticket_id, record.sequence)
            line_keys = [(e.tenant, e.technician, e.period, e.ticket_id, e.sequence) for e in entries]
            if key in self.records or any(k in self.lines for k in line_keys):
                raise Conflict("exists")
            self.records[key] = record
            self.lines.update(zip(line_keys, entries, strict=True))
            image = RevenueFold(
                tenant=record.tenant, ticket_id=record.ticket_id, sequence=record.sequence, changes=changes
            ).model_dump(mode="json")
            self.stream.append(image)
            self.writes += 1
        fold = self.revenue_fold(image)
        assert fold is not None
        self.apply_revenue([fold])

    def revenue_fold(self, image: dict[str, Any]) -> RevenueFold | None:
        return RevenueFold.model_validate(image) if "changes" in image else None

    def apply_revenue(self, folds: Sequence[RevenueFold]) -> int:
        with self._lock:
            fresh = [f for f in folds if (f.tenant, f.ticket_id, f.sequence) not in self.folded]
            self.folded.update((f.tenant, f.ticket_id, f.sequence) for f in fresh)
            for c in (c for f in fresh for c in f.changes):
                agg = self.aggregates.setdefault(
                    (folds[0].tenant, c.period, c.group_by, c.key),
                    {"total": D(0), "earnings": D(0), "count": 0},
                )
                agg["total"] += c.change.total
                agg["earnings"] += c.change.earnings
                agg["count"] += c.change.count
            return len(fresh)

    def earnings(self, tenant: str, technician: str, period: str) -> list[LedgerEntry]:
        return [
            e
            for (t, tech, p, _, _), e in self.lines.items()
            if (t, tech, p) == (tenant, technician, period) and not e.staff
        ]

    def staff_earnings(self, tenant: str, user: str, period: str) -> list[LedgerEntry]:
        return [
            e for (t, u, p, _, _), e in self.lines.items() if (t, u, p) == (tenant, user, period) and e.staff
        ]

    def revenue(self, tenant: str, period: str, group_by: str) -> list[RevenueGroup]:
        return [
            RevenueGroup(group_by=g, key=k, total=a["total"], earnings=a["earnings"], count=a["count"])
            for (t, p, g, k), a in sorted(self.aggregates.items())
            if (t, p, g) == (tenant, period, group_by)
        ]


@pytest.fixture(autouse=True)
def fixed_clock() -> Iterator[None]:
    clock.install(lambda: T0 + timedelta(hours=1))
    yield
    clock.reset()


@pytest.fixture
def deps() -> Deps:
    return Deps(tickets=FakeTickets(), ledger=FakeLedger())


def install_ticket(
    deps: Deps,
    *,
    ticket_id: str = "TK-1",
    technician: str = "t-wang",
    region: str = "CN-BJ",
    priority: str = "normal",
    service_items: list[dict[str, Any]] | None = None,
    parts: list[dict[str, Any]] | None = None,
    confirmed_at: datetime = T0,
    **extra: Any,
) -> Ticket:
    """An install ticket that went on_site → complete → customer_confirm → confirm → settle."""
    fields = {
        "customer_name": "陈",
        "customer_phone": "+8613900000000",
        "address": "朝阳路1号",
        "region": region,
        "priority": priority,
        "photos": ["a.jpg", "b.jpg"],
        "service_items": service_items
        if service_items is not None
        else [{"code": "SVC-AC-INSTALL", "quantity": 1}],
        "parts": parts if parts is not None else [{"sku": "PRT-COPPER-PIPE", "quantity": "2.5"}],
        "satisfaction": "5",
    }
    ticket = Ticket(
        tenant="acme-home",
        id=ticket_id,
        type="install",
        node="settle",
        version=6,
        fields=fields,
        created_at=confirmed_at - timedelta(hours=3),
        updated_at=confirmed_at,
        created_by="u-lin",
        channel="api",
        dispatch={"technician": technician},
        **extra,
    )
    tickets = deps.tickets
    assert isinstance(tickets, FakeTickets)
    tickets.create(ticket, created(ticket))
    tickets.events[("acme-home", ticket_id)] += [
        action("on_site", "complete", technician, confirmed_at - timedelta(hours=1), 4),
        action("customer_confirm", "confirm", "u-lin", confirmed_at, 6),
    ]
    return ticket


def created(ticket: Ticket) -> TicketEvent:
    return TicketEvent(at=ticket.created_at, actor="u-lin", kind="created", node="dispatching", version=1)


def action(node: str, name: str, actor: str, at: datetime, version: int) -> TicketEvent:
    return TicketEvent(at=at, actor=actor, kind="action", node=node, action=name, version=version)


def rework(deps: Deps, ticket_id: str, at: datetime, **fields: Any) -> None:
    """customer_confirm → rework → on_site → complete (new fields) → customer_confirm → confirm."""
    tickets = deps.tickets
    assert isinstance(tickets, FakeTickets)
    ticket = tickets.get("acme-home", ticket_id)
    moved = ticket.model_copy(
        update={"fields": {**ticket.fields, **fields}, "node": "settle", "version": ticket.version + 3}
    )
    tickets.save(moved, expected_version=ticket.version)
    tickets.events[("acme-home", ticket_id)] += [
        action("customer_confirm", "rework", "u-lin", at - timedelta(hours=2), ticket.version + 1),
        action("on_site", "complete", "t-wang", at - timedelta(hours=1), ticket.version + 2),
        action("customer_confirm", "confirm", "u-lin", at, ticket.version + 3),
    ]


def ledger_of(deps: Deps) -> FakeLedger:
    assert isinstance(deps.ledger, FakeLedger)
    return deps.ledger


# --------------------------------------------------------------------------- settle


def test_settle_prices_the_ticket_and_writes_record_ledger_and_aggregates(deps: Deps) -> None:
    # Given a Beijing install by a direct technician: T1, ×1.20
    install_ticket(deps)
    # When the settlement node runs
    settled = service.settle(deps, TENANT, "TK-1", "settle")
    # Then 200×1×1.2 = 240.00 + 45×2.5×1.2 = 135.00 → 375.00; direct earns 60% = 225.00
    assert settled.created
    s = settled.record.settlement
    assert (s["tier"], s["subtotal"], s["total"], s["installer_earnings"]) == (
        "T1",
        "375.00",
        "375.00",
        "225.00",
    )
    assert settled.record.period == "2026-11"
    ledger = ledger_of(deps)
    (entry,) = ledger.lines.values()
    assert (entry.technician, entry.amount, entry.kind) == ("t-wang", D("225.00"), "settlement")
    assert ledger.aggregates[("acme-home", "2026-11", "tier", "T1")] == {
        "total": D("375.00"),
        "earnings": D("225.00"),
        "count": 1,
    }
    items = {k[3]: v["total"] for k, v in ledger.aggregates.items() if k[2] == "item"}
    assert items == {"SVC-AC-INSTALL": D("240.00"), "PRT-COPPER-PIPE": D("135.00")}
    # And the ticket shows it
    ticket = deps.tickets.get("acme-home", "TK-1")
    assert ticket.settlement is not None
    assert (ticket.settlement["total"], ticket.settlement["earnings"]) == ("375.00", "225.00")
    assert ticket.settlement["sequence"] == 1 and ticket.settlement["catalog_version"] == "2026-11"
    assert deps.tickets.history("acme-home", "TK-1")[-1].kind == "settled"


def test_settling_the_same_visit_again_changes_nothing(deps: Deps) -> None:
    install_ticket(deps)
    first = service.settle(deps, TENANT, "TK-1", "settle")
    version = deps.tickets.get("acme-home", "TK-1").version
    again = service.settle(deps, TENANT, "TK-1", "settle")
    assert not again.created
    assert again.record == first.record
    assert ledger_of(deps).writes == 1 and len(ledger_of(deps).lines) == 1
    assert deps.tickets.get("acme-home", "TK-1").version == version


def test_concurrent_settles_of_one_visit_write_one_record(deps: Deps) -> None:
    from concurrent.futures import ThreadPoolExecutor

    install_ticket(deps)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: service.settle(deps, TENANT, "TK-1", "settle"), range(8)))
    assert sum(r.created for r in results) == 1
    assert {r.record.sequence for r in results} == {1}
    assert ledger_of(deps).writes == 1


def test_completion_time_is_the_last_human_action_and_drives_the_night_surcharge(deps: Deps) -> None:
    # confirmed at 22:30 Shanghai → night 20%
    install_ticket(deps, confirmed_at=datetime(2026, 11, 23, 14, 30, tzinfo=UTC))
    record = service.settle(deps, TENANT, "TK-1", "settle").record
    assert [s["code"] for s in record.settlement["surcharges"]] == ["night"]
    assert record.settlement["total"] == "450.00"  # 375.00 + 75.00
    assert record.completed_at == datetime(2026, 11, 23, 14, 30, tzinfo=UTC)


def test_period_is_the_completion_month_in_the_tenant_time_zone(deps: Deps) -> None:
    # 2026-11-30 17:00 UTC is 2026-12-01 01:00 in Shanghai
    install_ticket(deps, confirmed_at=datetime(2026, 11, 30, 17, 0, tzinfo=UTC))
    record = service.settle(deps, TENANT, "TK-1", "settle").record
    assert record.period == "2026-12"
    assert {e.period for e in ledger_of(deps).lines.values()} == {"2026-12"}


def test_rework_adds_an_adjustment_and_never_rewrites(deps: Deps) -> None:
    install_ticket(deps)
    first = service.settle(deps, TENANT, "TK-1", "settle").record
    # When the customer asks for rework and one more metre of pipe is used
    rework(deps, "TK-1", T0 + timedelta(days=1), parts=[{"sku": "PRT-COPPER-PIPE", "quantity": "3.5"}])
    second = service.settle(deps, TENANT, "TK-1", "settle")
    assert second.created and second.record.sequence == 2
    assert second.record.adjustment is not None
    assert second.record.adjustment["lines"] == [
        {"kind": "part", "code": "PRT-COPPER-PIPE", "quantity": "1.0", "amount": "54.00"}
    ]
    assert second.record.adjustment["installer_earnings"] == "32.40"
    ledger = ledger_of(deps)
    assert ledger.records[("acme-home", "TK-1", 1)] == first  # untouched
    amounts = sorted(e.amount for e in ledger.lines.values())
    assert amounts == [D("32.40"), D("225.00")]
    assert sum(amounts) == D(second.record.settlement["installer_earnings"])
    tier = ledger.aggregates[("acme-home", "2026-11", "tier", "T1")]
    assert tier == {"total": D("429.00"), "earnings": D("257.40"), "count": 1}
    # Replaying the rework's settlement changes nothing either
    assert not service.settle(deps, TENANT, "TK-1", "settle").created
    assert deps.tickets.get("acme-home", "TK-1").settlement["sequence"] == 2  # type: ignore[index]


def test_rework_by_another_technician_moves_the_earnings(deps: Deps) -> None:
    install_ticket(deps)
    service.settle(deps, TENANT, "TK-1", "settle")
    tickets = deps.tickets
    assert isinstance(tickets, FakeTickets)
    ticket = tickets.get("acme-home", "TK-1")
    tickets.save(
        ticket.model_copy(update={"dispatch": {"technician": "t-li"}}), expected_version=ticket.version
    )
    rework(deps, "TK-1", T0 + timedelta(days=1))
    record = service.settle(deps, TENANT, "TK-1", "settle").record
    by_tech: dict[str, Decimal] = {}
    for e in ledger_of(deps).lines.values():
        by_tech[e.technician] = by_tech.get(e.technician, D(0)) + e.amount
    # dealer in a tier1 region: T2 (160×1.2=192.00, 40×2.5×1.2=120.00) = 312.00, 85% = 265.20
    assert by_tech == {"t-wang": D("0.00"), "t-li": D("265.20")}
    assert record.settlement["tier"] == "T2"
    tiers = {k[3]: v for k, v in ledger_of(deps).aggregates.items() if k[2] == "tier"}
    assert tiers["T1"] == {"total": D("0.00"), "earnings": D("0.00"), "count": 0}
    assert tiers["T2"]["count"] == 1 and tiers["T2"]["total"] == D("312.00")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=5),
            st.decimals(min_value=D("0.1"), max_value=D("20"), places=1),
            st.sampled_from(["normal", "urgent"]),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_rework_adjustments_add_up_to_the_latest_settlement(visits: list[tuple[int, Decimal, str]]) -> None:
    deps = Deps(tickets=FakeTickets(), ledger=FakeLedger())
    installs, pipe, priority = visits[0]
    install_ticket(
        deps,
        priority=priority,
        service_items=[{"code": "SVC-AC-INSTALL", "quantity": installs}],
        parts=[{"sku": "PRT-COPPER-PIPE", "quantity": str(pipe)}],
    )
    record = service.settle(deps, TENANT, "TK-1", "settle").record
    for n, (installs, pipe, priority) in enumerate(visits[1:], start=1):
        rework(
            deps,
            "TK-1",
            T0 + timedelta(hours=5 * n),
            priority=priority,
            service_items=[{"code": "SVC-AC-INSTALL", "quantity": installs}],
            parts=[{"sku": "PRT-COPPER-PIPE", "quantity": str(pipe)}],
        )
        record = service.settle(deps, TENANT, "TK-1", "settle").record
    ledger = ledger_of(deps)
    assert record.sequence == len(visits)
    assert sum(e.amount for e in ledger.lines.values()) == record.earnings
    for group_by in ("tier", "region", "item", "ticket_type", "channel"):
        groups = ledger.revenue("acme-home", "2026-11", group_by)
        assert sum(g.total for g in groups) == record.total, group_by
    assert sum(g.count for g in ledger.revenue("acme-home", "2026-11", "tier")) == 1


def test_an_unknown_item_fails_the_ticket_with_the_reason(deps: Deps) -> None:
    install_ticket(deps, service_items=[{"code": "SVC-NOPE", "quantity": 1}])
    with pytest.raises(PricingError, match="SVC-NOPE"):
        service.settle(deps, TENANT, "TK-1", "settle")
    ticket = deps.tickets.get("acme-home", "TK-1")
    assert ticket.status == "failed"
    assert ticket.reason is not None and "SVC-NOPE" in ticket.reason
    assert ledger_of(deps).writes == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dispatch": None}, "no assigned technician"),
        ({"dispatch": {"technician": "t-ghost"}}, "t-ghost"),
    ],
)
def test_tickets_that_cannot_be_priced_fail_visibly(deps: Deps, change: dict[str, Any], message: str) -> None:
    install_ticket(deps, **({} if "dispatch" in change else change))
    tickets = deps.tickets
    assert isinstance(tickets, FakeTickets)
    ticket = tickets.get("acme-home", "TK-1")
    tickets.save(ticket.model_copy(update=change), expected_version=ticket.version)
    with pytest.raises(PricingError, match=message):
        service.settle(deps, TENANT, "TK-1", "settle")
    assert deps.tickets.get("acme-home", "TK-1").status == "failed"


class FakeCatalogs:
    """Keeps the store's contract: a version is stored once and never rewritten."""

    def __init__(self, *snapshots: PricingSnapshot) -> None:
        self.snapshots = {(s.tenant, s.version): s for s in snapshots}

    def ensure(self, cfg: TenantConfig) -> None:
        snapshot = PricingSnapshot.of(cfg)
        self.snapshots.setdefault((snapshot.tenant, snapshot.version), snapshot)

    def get(self, tenant: str, version: str) -> PricingSnapshot | None:
        return self.snapshots.get((tenant, version))


def pin(deps: Deps, version: str) -> None:
    tickets = deps.tickets
    assert isinstance(tickets, FakeTickets)
    ticket = tickets.get("acme-home", "TK-1")
    tickets.save(ticket.model_copy(update={"catalog_version": version}), expected_version=ticket.version)


def test_the_ticket_is_priced_with_the_catalog_version_it_was_created_under(deps: Deps) -> None:
    # Given a ticket created under "2026-10", when install cost 100.00 at T1
    old = PricingSnapshot.of(TENANT)
    items = [
        i.model_copy(update={"price": {**i.price, "T1": D("100.00")}}) for i in old.catalog.service_items
    ]
    old = old.model_copy(
        update={
            "version": "2026-10",
            "catalog": old.catalog.model_copy(update={"version": "2026-10", "service_items": items}),
        }
    )
    deps.catalogs = FakeCatalogs(old)
    install_ticket(deps)
    pin(deps, "2026-10")
    # When it is settled after the tenant deployed "2026-11"
    record = service.settle(deps, TENANT, "TK-1", "settle").record
    # Then the old price applies: 100×1.2 = 120.00 + 135.00
    assert record.settlement["catalog_version"] == "2026-10"
    assert record.settlement["total"] == "255.00"


def test_a_pinned_version_that_is_nowhere_fails_visibly(deps: Deps) -> None:
    deps.catalogs = FakeCatalogs()
    install_ticket(deps)
    pin(deps, "2026-09")
    with pytest.raises(PricingError, match="2026-09"):
        service.settle(deps, TENANT, "TK-1", "settle")
    assert deps.tickets.get("acme-home", "TK-1").status == "failed"


def test_the_current_version_prices_without_a_stored_snapshot(deps: Deps) -> None:
    install_ticket(deps)
    pin(deps, TENANT.catalog.version)
    assert service.settle(deps, TENANT, "TK-1", "settle").record.settlement["total"] == "375.00"


def test_decimal_and_float_json_quantities_are_priced_exactly(deps: Deps) -> None:
    install_ticket(deps, parts=[{"sku": "PRT-COPPER-PIPE", "quantity": 1.1}])
    record = service.settle(deps, TENANT, "TK-1", "settle").record
    assert record.settlement["lines"][1]["amount"] == "59.40"  # 45 × 1.1 × 1.2


# --------------------------------------------------------------------------- statements and reports

FINANCE = Caller(sub="u-qian", tenant="acme-home", roles=frozenset({"finance"}))
WANG = Caller(sub="t-wang", tenant="acme-home", roles=frozenset({"technician"}))
LI = Caller(sub="t-li", tenant="acme-home", roles=frozenset({"technician"}))
AGENT = Caller(sub="u-lin", tenant="acme-home", roles=frozenset({"agent"}))


def test_earnings_statement_is_for_the_technician_finance_and_admin(deps: Deps) -> None:
    install_ticket(deps)
    service.settle(deps, TENANT, "TK-1", "settle")
    mine = reports.earnings_statement(deps, TENANT, WANG, "t-wang", "2026-11")
    assert mine.total == D("225.00") and [line.ticket_id for line in mine.lines] == ["TK-1"]
    assert reports.earnings_statement(deps, TENANT, FINANCE, "t-wang", "2026-11").total == D("225.00")
    assert reports.earnings_statement(deps, TENANT, FINANCE, "t-wang", "2026-10").total == D(0)
    with pytest.raises(Forbidden):
        reports.earnings_statement(deps, TENANT, LI, "t-wang", "2026-11")
    with pytest.raises(Forbidden):
        reports.earnings_statement(deps, TENANT, AGENT, "t-wang", "2026-11")
    with pytest.raises(NotFound):
        reports.earnings_statement(deps, TENANT, FINANCE, "t-ghost", "2026-11")


def test_revenue_report_sums_the_groups_and_renders_csv(deps: Deps) -> None:
    install_ticket(deps, ticket_id="TK-1")
    install_ticket(deps, ticket_id="TK-2", technician="t-li", region="CN-SH")
    for ticket_id in ("TK-1", "TK-2"):
        service.settle(deps, TENANT, ticket_id, "settle")
    report = reports.revenue_report(deps, TENANT, FINANCE, "2026-11", "tier")
    # TK-2: dealer in CN-SH (T2, ×1.15): 160×1.15 = 184.00 + 40×2.5×1.15 = 115.00 → 299.00
    assert [(g.key, g.total, g.count) for g in report.groups] == [
        ("T1", D("375.00"), 1),
        ("T2", D("299.00"), 1),
    ]
    assert report.total == D("674.00")
    lines = revenue_csv(report).splitlines()
    assert lines[0] == "period,group_by,key,currency,total,earnings,count"
    assert lines[1:] == ["2026-11,tier,T1,CNY,375.00,225.00,1", "2026-11,tier,T2,CNY,299.00,254.15,1"]
    with pytest.raises(Forbidden):
        reports.revenue_report(deps, TENANT, WANG, "2026-11", "tier")


# --------------------------------------------------------------------------- revenue folded from the stream


def _fold(ticket: str, changes: dict[str, str], tenant: str = "acme-home", sequence: int = 1) -> RevenueFold:
    return RevenueFold(
        tenant=tenant,
        ticket_id=ticket,
        sequence=sequence,
        changes=[
            RevenueChange(
                period="2026-11",
                group_by=name.split("#")[0],
                key=name.split("#")[1],
                change=GroupAmount(total=D(total), earnings=D(total) / 2, count=1),
            )
            for name, total in changes.items()
        ],
    )


def test_a_batch_folds_into_one_delta_per_aggregate() -> None:
    # Given three records, two in the same tier
    folds = [
        _fold("TK-1", {"tier#T1": "100.00", "region#CN-BJ": "100.00"}),
        _fold("TK-2", {"tier#T1": "50.50", "region#CN-SH": "50.50"}),
        _fold("TK-3", {"tier#T2": "10.00", "region#CN-SH": "10.00"}),
    ]
    # Then each aggregate gets one delta: the sum of its records' changes, counts included
    deltas = fold(folds)
    assert deltas[("2026-11", "tier", "T1")] == GroupAmount(total=D("150.50"), earnings=D("75.25"), count=2)
    assert deltas[("2026-11", "region", "CN-SH")].count == 2
    assert len(deltas) == 4
    # And a rework that gives back what a record added folds to nothing (no write for nothing)
    back = _fold("TK-1", {}, sequence=2).model_copy(
        update={
            "changes": [c.model_copy(update={"change": GroupAmount() - c.change}) for c in folds[0].changes]
        }
    )
    assert fold([folds[0], back]) == {}


def test_a_batch_is_cut_into_transactions_of_at_most_100_items() -> None:
    # Given 150 records, each changing 3 aggregates of its own
    folds = [
        _fold(f"TK-{n}", {f"item#I{n}": "1", f"tier#T{n}": "1", f"region#R{n}": "1"}) for n in range(150)
    ]
    runs = transactions(folds, 100)
    # Then every run's markers and updates fit in one transaction, and no record is lost or repeated
    assert all(len(run) + len(fold(run)) <= 100 for run in runs)
    assert [f.ticket_id for run in runs for f in run] == [f.ticket_id for f in folds]
    assert len(runs) == 6  # 25 records (25 markers + 75 updates) a run


def test_records_spread_over_the_shards_and_a_batch_writes_one() -> None:
    shards = {shard_of(f"TK-{n}", 1) for n in range(200)}
    assert shards == set(range(REVENUE_SHARDS))
    batch = [_fold(f"TK-{n}", {"tier#T1": "1"}) for n in range(5)]
    assert batch_shard(batch) == shard_of("TK-0", 1) == batch_shard(batch)  # stable across calls


def test_taking_a_batch_again_counts_nothing_twice_and_each_tenant_in_its_scope() -> None:
    # Given a batch of two tenants' records
    ledger = FakeLedger()
    batch = [_fold("TK-1", {"tier#T1": "100"}), _fold("B-1", {"tier#A": "7"}, tenant="bright-clean")]
    entered: list[str] = []
    # When it is taken, then delivered again (a retried stream batch)
    first = aggregates.take(ledger, batch, enter=entered.append)
    again = aggregates.take(ledger, [*batch, _fold("TK-2", {"tier#T1": "1"})], enter=entered.append)
    # Then the second time only the new record counts, and each tenant's writes came in its scope
    assert [(t.tenant, t.records, t.applied) for t in first] == [("acme-home", 1, 1), ("bright-clean", 1, 1)]
    assert [(t.tenant, t.records, t.applied) for t in again] == [("acme-home", 2, 1), ("bright-clean", 1, 0)]
    assert entered == ["acme-home", "bright-clean"] * 2
    (t1,) = ledger.revenue("acme-home", "2026-11", "tier")
    assert (t1.total, t1.count) == (D("101"), 2)
