"""The OpenTickets gauge (pure counting) and the twin's firing of scheduled EventBridge rules."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.ticket.gauges import Gauge, measure_open_tickets, open_tickets_by_node, sweep
from infra.twin.rules import ScheduledRule, function_name, rate_period
from shared.errors import NotFound
from shared.tenant.models import TenantConfig
from tests import factories

CFG = TenantConfig.model_validate(factories.tenant_dict())
# repair: dispatching, manual, on_site, review, settle (ticket can wait there); closed (end)
WAITING = ["dispatching", "manual", "on_site", "review", "settle"]


class FakeTickets:
    def __init__(self, positions: dict[str, list[tuple[str, str]]]) -> None:
        self.positions = positions
        self.queried: list[str] = []

    def open_positions(self, tenant: str) -> Iterable[tuple[str, str]]:
        self.queried.append(tenant)
        return iter(self.positions.get(tenant, []))


def test_every_waiting_node_gets_a_value_and_end_nodes_none() -> None:
    # Given two open tickets on site and one in review
    positions = [("repair", "on_site"), ("repair", "review"), ("repair", "on_site")]
    # When counted
    gauges = open_tickets_by_node(CFG.ticket_types, positions)
    # Then each node a ticket can wait at has its count, 0 for empty ones, sorted; `closed` has none
    assert gauges == [
        Gauge("repair", "dispatching", 0),
        Gauge("repair", "manual", 0),
        Gauge("repair", "on_site", 2),
        Gauge("repair", "review", 1),
        Gauge("repair", "settle", 0),
    ]


def test_a_node_outside_the_current_workflow_is_still_counted() -> None:
    # Given a ticket pinned to an older workflow whose node `inspect` no longer exists, and a type gone
    positions = [("repair", "inspect"), ("survey", "visit"), ("repair", "manual")]
    counts = {(g.ticket_type, g.node): g.count for g in open_tickets_by_node(CFG.ticket_types, positions)}
    assert counts[("repair", "inspect")] == 1 and counts[("survey", "visit")] == 1
    assert counts[("repair", "manual")] == 1 and counts[("repair", "on_site")] == 0


def test_measure_reads_the_tenants_open_tickets_once() -> None:
    tickets = FakeTickets({"test-co": [("repair", "review")], "other-co": [("repair", "on_site")] * 5})
    gauges = measure_open_tickets(tickets, CFG)
    assert tickets.queried == ["test-co"]
    assert sum(g.count for g in gauges) == 1 and len(gauges) == len(WAITING)


@given(st.lists(st.tuples(st.just("repair"), st.sampled_from([*WAITING, "gone"])), max_size=60))
def test_counts_add_up_to_the_open_tickets(positions: list[tuple[str, str]]) -> None:
    gauges = open_tickets_by_node(CFG.ticket_types, positions)
    assert sum(g.count for g in gauges) == len(positions)
    assert {(g.ticket_type, g.node): g.count for g in gauges if g.count} == dict(Counter(positions))
    assert {g.node for g in gauges} >= set(WAITING)
    assert [(g.ticket_type, g.node) for g in gauges] == sorted((g.ticket_type, g.node) for g in gauges)


# ----------------------------------------------------------------------------- twin: scheduled rules
@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(5 minutes)", 300),
        ("rate(1 minute)", 60),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        ("cron(0/5 * * * ? *)", None),
        ("rate(0 minutes)", None),
        ("rate(5 fortnights)", None),
    ],
)
def test_rate_period(expression: str, seconds: int | None) -> None:
    period = rate_period(expression)
    assert (period.total_seconds() if period else None) == seconds


T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def a_rule(target: dict[str, str] | None = None) -> ScheduledRule:
    target = target or {"Id": "T0", "Arn": "arn:aws:lambda:us-east-1:1:function:scrm-ticket-gauges"}
    return ScheduledRule("r", "arn:aws:events:us-east-1:1:rule/r", timedelta(minutes=5), [target], T0)


def test_a_rule_fires_each_period_and_coalesces_a_jump() -> None:
    rule = a_rule()
    # not before its time; then once per period when the clock moves in small steps
    assert not rule.due(T0 - timedelta(seconds=1))
    fired = [rule.due(T0 + timedelta(minutes=m)) for m in range(0, 16)]
    assert [m for m, f in enumerate(fired) if f] == [0, 5, 10, 15]
    # a 29-hour jump fires once (a gauge read now), and the next firing is one period after it
    assert rule.due(T0 + timedelta(hours=29, seconds=10))
    assert not rule.due(T0 + timedelta(hours=29, seconds=20))
    assert rule.next_at == T0 + timedelta(hours=29, minutes=5)


def test_a_rule_target_gets_its_input_or_the_scheduled_event() -> None:
    constant = a_rule(
        {"Id": "T0", "Arn": "arn:aws:lambda:r:1:function:f", "Input": '{"tenant": "acme-home"}'}
    )
    assert constant.event(constant.targets[0], T0, "1", "us-east-1") == {"tenant": "acme-home"}
    plain = a_rule()
    envelope = plain.event(plain.targets[0], T0, "1", "us-east-1")
    assert envelope["detail-type"] == "Scheduled Event" and envelope["source"] == "aws.events"
    assert envelope["time"] == "2026-11-23T01:00:00Z" and envelope["resources"] == [plain.arn]


def test_function_name_of_a_target() -> None:
    assert function_name("arn:aws:lambda:us-east-1:1:function:scrm-ticket-gauges") == "scrm-ticket-gauges"
    assert function_name("arn:aws:lambda:us-east-1:1:function:f:live") == "f"
    assert function_name("arn:aws:sqs:us-east-1:1:queue") is None


# ----------------------------------------------------------------------------- one sweep, every tenant
def _clock(seconds: list[float]) -> Callable[[], float]:
    """A Lambda's remaining time that drops by one second each time it is read."""

    def left() -> float:
        seconds[0] -= 1
        return seconds[0]

    return left


def test_a_failing_tenant_is_reported_and_skipped_the_others_measured() -> None:
    tickets = FakeTickets({"a-co": [("repair", "review")], "c-co": [("repair", "on_site")] * 2})

    def measure(tenant: str) -> list[Gauge]:
        if tenant == "b-co":
            raise NotFound("unknown tenant 'b-co'")
        return measure_open_tickets(tickets, CFG)

    reported: list[str] = []
    done = sweep(
        ["a-co", "b-co", "c-co"],
        measure,
        time_left=lambda: 60.0,
        reserve=5.0,
        workers=2,
        failed=lambda tenant, exc: reported.append(f"{tenant}: {exc}"),
    )
    assert sorted(done.measured) == ["a-co", "c-co"] and done.unreached == []
    assert done.failed == {"b-co": "NotFound: unknown tenant 'b-co'"}
    assert reported == ["b-co: unknown tenant 'b-co'"]


def test_tenants_are_not_started_once_the_time_left_is_the_reserve() -> None:
    started: list[str] = []

    def measure(tenant: str) -> list[Gauge]:
        started.append(tenant)
        return []

    tenants = [f"t{n:02}-co" for n in range(10)]
    # 9 seconds left, each look costs 1 s, 5 s kept in reserve: three tenants start (8, 7, 6 s left)
    done = sweep(tenants, measure, time_left=_clock([9.0]), reserve=5.0, workers=1, failed=lambda *_: None)
    assert started == tenants[:3] and sorted(done.measured) == tenants[:3]
    assert done.unreached == tenants[3:] and done.failed == {}


def test_each_tenant_runs_in_a_copy_of_the_invocations_context() -> None:
    from shared.settings import function_environment, settings
    from shared.tenant_scope import current, tenant_scope

    seen: dict[str, tuple[str, str | None]] = {}

    def measure(tenant: str) -> list[Gauge]:
        with tenant_scope(tenant):
            seen[tenant] = (settings().tenant_data_access, current())
        return []

    with function_environment({"TENANT_DATA_ACCESS": "open-tickets"}):
        sweep(
            ["a-co", "b-co"], measure, time_left=lambda: 60.0, reserve=1.0, workers=2, failed=lambda *_: None
        )
        assert current() is None  # no worker's scope came back
    # the worker threads saw the invoked function's settings, each its own scope
    assert seen == {"a-co": ("open-tickets", "a-co"), "b-co": ("open-tickets", "b-co")}


@pytest.mark.parametrize("count", [1, 2, 7, 10, 1000])
def test_each_run_starts_the_sweep_elsewhere_and_every_tenant_comes_first_in_turn(count: int) -> None:
    from functions.ticket.gauges import rotation

    tenants = [f"t-{n:04d}" for n in range(count)]
    firsts = set()
    for run in range(count):
        order = rotation(tenants, run)
        assert sorted(order) == tenants  # every tenant, once
        firsts.add(order[0])
    assert firsts == set(tenants)  # a tenant a short sweep missed is early in a later run
    assert rotation([], 3) == []
