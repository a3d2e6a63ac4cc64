"""Follow-ups (回访): planning, scheduling, opening the linked ticket once, cancelling with the source,
and the tenant file's checks. Fakes only (the twin's run is in tests/e2e/test_follow_ups.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from functions.ticket import service
from functions.ticket.follow_up import open_follow_up, plan_follow_ups
from shared import clock
from shared.domain.ticket import Ticket
from shared.follow_ups import FollowUpTimers, child_id, follow_up_timer_name
from shared.identity import Caller
from shared.tenant import load_tenant_file
from shared.tenant.models import FollowUp, TenantConfig
from shared.tenant.validate import validate_tenant_data
from tests import factories
from tests.fakes import FakeEngine, FakeTickets
from tests.unit.test_sla_reminders import FakeSchedules, sh

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tenants" / "acme-home.yaml"


@pytest.fixture(scope="module")
def acme() -> TenantConfig:
    cfg: TenantConfig = load_tenant_file(str(EXAMPLE))
    return cfg


def with_follow_ups(cfg: TenantConfig, type_id: str, *follow_ups: dict[str, Any]) -> TenantConfig:
    kind = cfg.ticket_types[type_id]
    changed = kind.model_copy(update={"follow_ups": [FollowUp.model_validate(f) for f in follow_ups]})
    return cfg.model_copy(update={"ticket_types": {**cfg.ticket_types, type_id: changed}})


@pytest.fixture
def now() -> Iterator[list[datetime]]:
    current = [sh(27, 17)]  # Friday 27 Nov 2026, 17:00 Shanghai
    previous = clock.now
    clock.now = lambda: current[0]  # type: ignore[assignment]
    yield current
    clock.now = previous  # type: ignore[assignment]


class World:
    def __init__(self, cfg: TenantConfig) -> None:
        self.cfg = cfg
        self.schedules = FakeSchedules()
        self.timers = FollowUpTimers(self.schedules, lambda: "arn:follow-up")
        self.deps = service.Deps(tickets=FakeTickets(), engine=FakeEngine(), follow_ups=self.timers)

    def add(self, ticket: Ticket) -> Ticket:
        self.deps.tickets.create(ticket, factories.created_event(ticket))
        return ticket

    def get(self, ticket_id: str) -> Ticket:
        return self.deps.tickets.get("acme-home", ticket_id)


def install(at: datetime, **extra: Any) -> Ticket:
    fields = {"customer_name": "周先生", "customer_phone": "+8613900000077", "region": "CN-BJ"}
    return factories.ticket("TK-9", at=at, ticket_type="install", node="on_site", fields=fields, **extra)


def test_the_example_plans_a_callback_three_business_days_after_closing(
    acme: TenantConfig, now: list[datetime]
) -> None:
    world = World(acme)
    ticket = install(now[0], status="closed")
    [entry] = plan_follow_ups(world.deps, acme, ticket, "closed", now[0])
    # Friday 17:00 + 3 business days: acme's calendar opens on Saturday mornings, so the third
    # working day after Friday is Tuesday (Sat, Mon, Tue), at the same time of day
    assert (entry["key"], entry["status"], entry["ticket_type"]) == ("callback", "pending", "callback")
    assert datetime.fromisoformat(entry["at"]) == datetime(2026, 12, 1, 17, tzinfo=ZoneInfo("Asia/Shanghai"))
    name = follow_up_timer_name("acme-home", "TK-9", "callback")
    when, payload = world.schedules.pending[name]
    assert when == datetime.fromisoformat(entry["at"])
    assert payload == {"tenant": "acme-home", "ticket_id": "TK-9", "follow_up": "callback"}
    # an entry already on the ticket (a retried task) is not planned again
    again = ticket.model_copy(update={"follow_ups": [entry]})
    assert plan_follow_ups(world.deps, acme, again, "closed", now[0]) == []
    # other events plan nothing here
    assert plan_follow_ups(world.deps, acme, ticket, "entered:on_site", now[0]) == []


def test_wall_clock_follow_ups_per_visit_of_a_node(acme: TenantConfig, now: list[datetime]) -> None:
    cfg = with_follow_ups(
        acme, "install", {"id": "check", "event": "entered:on_site", "after": "2h", "ticket_type": "consult"}
    )
    world = World(cfg)
    first = install(now[0], visits={"on_site": 1})
    second = install(now[0], visits={"on_site": 2})
    [one] = plan_follow_ups(world.deps, cfg, first, "entered:on_site", now[0])
    [two] = plan_follow_ups(
        world.deps, cfg, second.model_copy(update={"follow_ups": [one]}), "entered:on_site", now[0]
    )
    assert (one["key"], two["key"]) == ("check-1", "check-2")
    assert datetime.fromisoformat(one["at"]) == now[0] + timedelta(hours=2)  # wall clock: no calendar


def test_firing_opens_the_linked_ticket_once(acme: TenantConfig, now: list[datetime]) -> None:
    world = World(acme)
    closed = install(now[0], status="closed", customer_id="CU-9")
    planned = plan_follow_ups(world.deps, acme, closed, "closed", now[0])
    world.add(closed.model_copy(update={"follow_ups": planned}))
    first = open_follow_up(world.deps, acme, "TK-9", "callback")
    again = open_follow_up(world.deps, acme, "TK-9", "callback")  # Scheduler retried the schedule
    assert first == again == {"outcome": "created", "ticket": child_id("TK-9", "callback")}
    child = world.get("TK-9-callback")
    assert (child.type, child.parent_id, child.node) == ("callback", "TK-9", "call")
    assert child.customer_id == "CU-9"  # the source's customer, whatever the fields say
    assert child.fields == {"customer_name": "周先生", "customer_phone": "+8613900000077"}
    assert [started[2] for started in world.deps.engine.started] == ["TK-9-callback"]  # type: ignore[attr-defined]
    source = world.get("TK-9")
    assert source.follow_ups[0]["status"] == "created" and source.children == ["TK-9-callback"]
    assert source.version == closed.version  # bookkeeping: the source's version stays


def test_a_mapping_names_the_new_tickets_fields(acme: TenantConfig, now: list[datetime]) -> None:
    cfg = with_follow_ups(
        acme,
        "install",
        {
            "id": "ask",
            "event": "closed",
            "after": "1d",
            "ticket_type": "consult",
            "fields": {"customer_name": "fields.customer_name", "question": "join(' ', ['回访', id])"},
        },
    )
    world = World(cfg)
    closed = install(now[0], status="closed")
    world.add(
        closed.model_copy(update={"follow_ups": plan_follow_ups(world.deps, cfg, closed, "closed", now[0])})
    )
    assert open_follow_up(world.deps, cfg, "TK-9", "ask")["outcome"] == "created"
    child = world.get("TK-9-ask")
    assert child.fields["question"] == "回访 TK-9" and child.fields["customer_name"] == "周先生"
    assert child.incomplete == {"missing": ["customer_phone"], "rejected": {}}  # lenient: kept, said


def test_cancelling_the_source_cancels_a_pending_follow_up(acme: TenantConfig, now: list[datetime]) -> None:
    cfg = with_follow_ups(
        acme, "consult", {"id": "later", "event": "entered:answer", "after": "1d", "ticket_type": "consult"}
    )
    world = World(cfg)
    ticket = world.add(factories.ticket("TK-5", at=now[0], visits={"answer": 1}))
    planned = plan_follow_ups(world.deps, cfg, ticket, "entered:answer", now[0])
    world.deps.tickets.save(ticket.model_copy(update={"follow_ups": planned}), expected_version=1)
    name = follow_up_timer_name("acme-home", "TK-5", "later-1")
    assert name in world.schedules.pending
    service.cancel(
        world.deps, cfg, Caller(tenant="acme-home", sub="u-lin", roles=("agent",)), "TK-5", "客户取消"
    )
    assert name not in world.schedules.pending
    assert world.get("TK-5").follow_ups[0]["status"] == "cancelled"
    # a schedule that fires anyway opens nothing
    assert open_follow_up(world.deps, cfg, "TK-5", "later-1")["outcome"] == "cancelled"
    assert world.deps.engine.started == []  # type: ignore[attr-defined]


def test_a_follow_up_whose_type_is_gone_is_marked_failed(acme: TenantConfig, now: list[datetime]) -> None:
    world = World(acme)
    closed = install(now[0], status="closed")
    world.add(
        closed.model_copy(update={"follow_ups": plan_follow_ups(world.deps, acme, closed, "closed", now[0])})
    )
    without = acme.model_copy(
        update={"ticket_types": {k: v for k, v in acme.ticket_types.items() if k != "callback"}}
    )
    answer = open_follow_up(world.deps, without, "TK-9", "callback")
    assert answer["outcome"] == "failed" and "callback" in answer["reason"]
    assert world.get("TK-9").follow_ups[0]["status"] == "failed"
    assert open_follow_up(world.deps, acme, "TK-9", "nope")["outcome"] == "stale"


def test_the_tenant_file_checks_follow_ups() -> None:
    import yaml

    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["ticket_types"]["install"]["follow_ups"] = [
        {"id": "a", "event": "entered:on_sit", "after": "1d", "ticket_type": "callbak"},
        {"id": "a", "event": "entered:settle", "after": "3bd", "ticket_type": "callback"},
        {"id": "b", "event": "opened", "after": "1d", "ticket_type": "callback"},
        {
            "id": "c",
            "event": "closed",
            "after": "1d",
            "ticket_type": "callback",
            "fields": {"customer_nme": "fields.x", "customer_name": "fields.["},
        },
    ]
    config, problems = validate_tenant_data(data)
    assert config is None
    found = {(p.path, p.message.split(";")[0]) for p in problems if p.severity == "error"}
    paths = {path for path, _ in found}
    assert "ticket_types.install.follow_ups.b.event" in paths  # not an event
    config, problems = validate_tenant_data(
        {
            **data,
            "ticket_types": {
                **data["ticket_types"],
                "install": {
                    **data["ticket_types"]["install"],
                    "follow_ups": data["ticket_types"]["install"]["follow_ups"][:2]
                    + data["ticket_types"]["install"]["follow_ups"][3:],
                },
            },
        }
    )
    errors = [(p.path, p.message) for p in problems if p.severity == "error"]

    def said(path: str, text: str) -> bool:
        return any(where == path and text in message for where, message in errors)

    base = "ticket_types.install.follow_ups."
    assert said(base + "a.event", "did you mean 'on_site'")
    assert said(base + "a.ticket_type", "did you mean 'callback'")
    assert said(base + "a.id", "defined twice")
    assert said(base + "a.event", "settlement node")
    assert said(base + "a.after", "calendar")
    assert said(base + "c.fields.customer_nme", "did you mean 'customer_name'")
    assert said(base + "c.fields.customer_name", "JMESPath")
