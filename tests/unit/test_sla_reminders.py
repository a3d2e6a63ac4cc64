"""SLA reminders without AWS: `SchedulerSla` on a fake scheduler, the `fire` logic on fakes.

Recipients, channels, at-most-once sending, stale schedules, pause and resume.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from functions.reminders.fire import FireDeps, ReminderEvent, fire, recipients
from shared import clock
from shared.domain.ticket import Assignee, Ticket, TicketEvent
from shared.repositories.reminders import marker_key
from shared.sla_clock import SchedulerSla
from shared.tenant import load_tenant_file
from shared.tenant.models import TenantConfig
from tests.fakes import FakeMarkers, FakeSender, FakeTickets

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tenants" / "acme-home.yaml"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def sh(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


class FakeSchedules:
    def __init__(self) -> None:
        self.pending: dict[str, tuple[datetime, dict[str, Any]]] = {}

    def at(self, name: str, when: datetime, target_arn: str, payload: dict[str, Any]) -> None:
        self.pending.setdefault(name, (when, payload))

    def delete(self, name: str) -> None:
        self.pending.pop(name, None)


@pytest.fixture(scope="module")
def cfg() -> TenantConfig:
    config: TenantConfig = load_tenant_file(str(EXAMPLE))
    return config


@pytest.fixture
def now() -> Iterator[list[datetime]]:
    instant = [sh(23, 9)]
    clock.install(lambda: instant[0])
    yield instant
    clock.reset()


def ticket_on(node: str, assignee: Assignee | None, *, priority: str = "urgent", **extra: Any) -> Ticket:
    return Ticket(
        tenant="acme-home",
        id="TK-1",
        type="install",
        node=node,
        assignee=assignee,
        fields={"customer_name": "陈女士", "priority": priority},
        created_at=sh(23, 9),
        updated_at=sh(23, 9),
        created_by="u-lin",
        visits={node: 1},
        dispatch={"technician": "t-li"},
        **extra,
    )


WANG = Assignee(kind="technician", id="t-wang")
LI = Assignee(kind="technician", id="t-li")


# --------------------------------------------------------------------------- SchedulerSla


class CountingSchedules(FakeSchedules):
    """Counts DeleteSchedule calls: each one is a Scheduler API call against the account's rate."""

    def __init__(self) -> None:
        super().__init__()
        self.deleted: list[str] = []

    def delete(self, name: str) -> None:
        self.deleted.append(name)
        super().delete(name)


def test_start_schedules_the_first_level_only_and_stop_removes_it(
    cfg: TenantConfig, now: list[datetime]
) -> None:
    """Chained levels: one schedule per clock (one CreateSchedule per park, one DeleteSchedule per leave)."""
    schedules = CountingSchedules()
    sla = SchedulerSla(schedules, "arn:fire")
    ticket = ticket_on("customer_confirm", Assignee(kind="role", id="agent"), priority="normal")
    state = sla.start(cfg, ticket, "customer_confirm")
    assert state is not None and state["chained"] is True
    # customer_confirm normal: 8 h from Monday 09:00 → yellow 4 h = 13:00 (lunch after 12:00: 3 h + 1 h
    # from 13:00 → 14:00), orange 6 h 24 m → 16:24, red 8 h → 18:00
    assert [(lv["name"], datetime.fromisoformat(lv["at"])) for lv in state["levels"]] == [
        ("yellow", sh(23, 14)),
        ("orange", sh(23, 16, 24)),
        ("red", sh(23, 18)),
    ]
    assert {name.rsplit("-", 1)[-1]: when for name, (when, _) in schedules.pending.items()} == {
        "yellow": sh(23, 14)
    }
    assert state["deadline"] == sh(23, 18).isoformat() and state["policy"] == "install-standard"
    sla.stop(cfg, ticket.model_copy(update={"sla": state}), "customer_confirm")
    assert schedules.pending == {} and len(schedules.deleted) == 1


def test_a_fired_level_chains_the_next_or_hands_back_a_due_one(
    cfg: TenantConfig, now: list[datetime]
) -> None:
    schedules = CountingSchedules()
    sla = SchedulerSla(schedules, "arn:fire")
    ticket = ticket_on("customer_confirm", Assignee(kind="role", id="agent"), priority="normal")
    state = sla.start(cfg, ticket, "customer_confirm")
    assert state is not None
    schedules.pending.clear()  # yellow fired and deleted itself
    fired = {**state, "levels": [{**lv, "fired": lv["name"] == "yellow"} for lv in state["levels"]]}
    on_time = ticket.model_copy(update={"sla": fired})
    now[0] = sh(23, 14)
    assert sla.chain(on_time, "yellow") is None
    assert {name.rsplit("-", 1)[-1]: when for name, (when, _) in schedules.pending.items()} == {
        "orange": sh(23, 16, 24)
    }
    schedules.pending.clear()
    now[0] = sh(23, 17)  # yellow fired late: orange is due already, and is handed back to send now
    assert sla.chain(on_time, "yellow") == "orange"
    assert schedules.pending == {}
    # the last level chains nothing; a clock stored before chaining (all levels scheduled) neither
    assert sla.chain(on_time, "red") is None
    assert sla.chain(on_time.model_copy(update={"sla": {**fired, "chained": False}}), "yellow") is None
    assert schedules.pending == {}


def test_stop_of_a_clock_from_before_chaining_deletes_only_the_levels_still_pending(
    cfg: TenantConfig, now: list[datetime]
) -> None:
    schedules = CountingSchedules()
    sla = SchedulerSla(schedules, "arn:fire")
    ticket = ticket_on("customer_confirm", Assignee(kind="role", id="agent"), priority="normal")
    state = sla.start(cfg, ticket, "customer_confirm")
    assert state is not None and len(state["levels"]) == 3
    state = {k: v for k, v in state.items() if k != "chained"}  # stored before chaining ...
    for level in state["levels"]:  # ... when every level had its schedule
        name = f"acme-home-TK-1-customer_confirm-1-{level['name']}"
        schedules.pending[name] = (datetime.fromisoformat(level["at"]), {})
    # yellow fired (its schedule deleted itself after completion), the others are pending
    first = state["levels"][0]["name"]
    fired = {**state, "levels": [{**lv, "fired": lv["name"] == first} for lv in state["levels"]]}
    fired_name = next(name for name in schedules.pending if name.endswith(first))
    schedules.pending.pop(fired_name)
    sla.stop(cfg, ticket.model_copy(update={"sla": fired}), "customer_confirm")
    assert schedules.pending == {}
    assert len(schedules.deleted) == 2 and fired_name not in schedules.deleted


def test_stop_without_a_stored_clock_deletes_every_level(cfg: TenantConfig, now: list[datetime]) -> None:
    """A park that created the schedules but never saved its state leaves none behind."""
    schedules = CountingSchedules()
    sla = SchedulerSla(schedules, "arn:fire")
    ticket = ticket_on("customer_confirm", Assignee(kind="role", id="agent"), priority="normal")
    assert sla.start(cfg, ticket, "customer_confirm") is not None
    sla.stop(cfg, ticket, "customer_confirm")  # ticket.sla is None: the state was never saved
    assert schedules.pending == {} and len(schedules.deleted) == 3


def test_untimed_nodes_and_types_have_no_clock(cfg: TenantConfig, now: list[datetime]) -> None:
    sla = SchedulerSla(FakeSchedules(), "arn:fire")
    assert sla.start(cfg, ticket_on("manual_dispatch", None), "manual_dispatch") is None
    consult = ticket_on("answer", None).model_copy(update={"type": "consult"})
    assert sla.start(cfg, consult, "answer") is None


def test_pause_keeps_used_time_and_resume_schedules_the_rest(cfg: TenantConfig, now: list[datetime]) -> None:
    schedules = FakeSchedules()
    sla = SchedulerSla(schedules, "arn:fire")
    ticket = ticket_on("on_site", WANG)  # urgent: 4 h
    state = sla.start(cfg, ticket, "on_site")
    # 3 h on site (09:00-12:00), then waiting for parts from 12:00
    now[0] = sh(23, 12)
    sla.stop(cfg, ticket, "on_site")
    waiting = ticket.model_copy(update={"node": "waiting_parts", "sla": state, "visits": {"on_site": 1}})
    paused = sla.start(cfg, waiting, "waiting_parts")
    assert paused is not None and paused["paused"] and paused["consumed"] == 3 * 3600
    assert schedules.pending == {}
    # back on Tuesday 09:00: 1 h left; yellow (2 h) was reached before, orange (3 h 12 m) is 12 m away
    now[0] = sh(24, 9)
    back = waiting.model_copy(update={"node": "on_site", "sla": paused, "visits": {"on_site": 2}})
    resumed = sla.start(cfg, back, "on_site")
    assert resumed is not None
    assert resumed["deadline"] == sh(24, 10).isoformat() and resumed["visit"] == 2
    assert [(lv["name"], lv.get("passed", False)) for lv in resumed["levels"]] == [
        ("yellow", True),
        ("orange", False),
        ("red", False),
    ]
    assert {name: when for name, (when, _) in schedules.pending.items()} == {
        "acme-home-TK-1-on_site-2-orange": sh(24, 9, 12),  # the next level only: red is chained from it
    }
    # Monday 12:00-18:00 paused: 5 business hours (lunch 12-13 is closed)
    assert resumed["paused_time"] == 5 * 3600


# --------------------------------------------------------------------------- recipients


def test_recipients_follow_the_assignee_kind(cfg: TenantConfig) -> None:
    def ids(assignee: Assignee | None, notify: list[str]) -> list[str]:
        return [c.id for c in recipients(cfg, ticket_on("on_site", assignee), notify)]

    assert ids(WANG, ["assignee"]) == ["t-wang"]
    assert ids(WANG, ["assignee", "supervisor"]) == ["t-wang", "u-zhao"]
    assert ids(Assignee(kind="role", id="agent"), ["assignee"]) == ["u-lin", "u-sun"]
    assert ids(Assignee(kind="user", id="u-qian"), ["assignee", "supervisor"]) == ["u-qian", "u-zhao"]
    assert ids(None, ["assignee", "role:dispatcher", "user:u-lin"]) == ["u-zhao", "u-lin"]
    assert ids(WANG, ["supervisor", "role:dispatcher"]) == ["u-zhao"]  # the same person once


# --------------------------------------------------------------------------- fire


def fire_deps(tickets: FakeTickets, sender: FakeSender | None = None) -> FireDeps:
    return FireDeps(
        tickets=tickets, markers=FakeMarkers(), sender=sender or FakeSender(), marker_key=marker_key
    )


def parked(cfg: TenantConfig, assignee: Assignee) -> tuple[FakeTickets, Ticket]:
    tickets = FakeTickets()
    ticket = ticket_on("on_site", assignee)
    state = SchedulerSla(FakeSchedules(), "arn:fire").start(cfg, ticket, "on_site")
    ticket = ticket.model_copy(update={"sla": state})
    tickets.create(ticket, TicketEvent(at=sh(23, 9), actor="u-lin", kind="created", version=1))
    return tickets, ticket


def request(level: str, visit: int = 1, node: str = "on_site") -> ReminderEvent:
    return ReminderEvent(tenant="acme-home", ticket_id="TK-1", node=node, visit=visit, level=level)


def test_orange_goes_to_assignee_and_supervisor_by_sms_email_and_wecom(
    cfg: TenantConfig, now: list[datetime]
) -> None:
    tickets, _ = parked(cfg, LI)  # t-li has a phone but no email and no wecom_user
    sender = FakeSender()
    result = fire(fire_deps(tickets, sender), cfg, request("orange"))
    assert [(c, to) for c, to, _ in sender.sent] == [
        ("sms", "+8613800000002"),
        ("sms", "+8613800000012"),
        ("email", "zhao@acme.example"),
        ("wecom", "ZhaoGang"),  # u-zhao's wecom_user, through acme-home's wecom_app
    ]
    assert result.skipped == [
        {"recipient": "t-li", "channel": "email", "to": "", "why": "t-li has no email address"},
        {"recipient": "t-li", "channel": "wecom", "to": "", "why": "t-li has no wecom address"},
    ]
    assert sender.sent[3][2] == sender.sent[1][2]  # a WeCom message is the SMS's text
    text = sender.sent[0][2]
    assert (
        "TK-1" in text and "橙色" in text and "orange" in text and "2026-11-23 14:00 (Asia/Shanghai)" in text
    )
    assert text.endswith("[SLA TK-1 orange]")
    state = tickets.get("acme-home", "TK-1").sla
    assert state is not None and state["level"] == "orange" and not state["breached"]


def test_a_failed_send_releases_its_marker_so_a_retry_sends(cfg: TenantConfig, now: list[datetime]) -> None:
    tickets, _ = parked(cfg, WANG)
    deps = fire_deps(tickets, FakeSender(fail=True))
    with pytest.raises(RuntimeError):
        fire(deps, cfg, request("yellow"))
    deps.sender = FakeSender()
    result = fire(deps, cfg, request("yellow"))
    assert [s["recipient"] for s in result.sent] == ["t-wang"]


def test_red_breaches_once(cfg: TenantConfig, now: list[datetime]) -> None:
    tickets, ticket = parked(cfg, WANG)
    deps = fire_deps(tickets)
    assert fire(deps, cfg, request("red")).breached is True
    assert fire(deps, cfg, request("red")).breached is False
    stored = tickets.get("acme-home", "TK-1")
    assert stored.sla is not None and stored.sla["breached"] is True
    assert stored.version == ticket.version  # bookkeeping never makes a pending action stale
    assert [e.kind for e in tickets.history("acme-home", "TK-1")] == ["created", "sla_breached"]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"status": "cancelled"}, "the ticket is cancelled"),
        ({"node": "customer_confirm"}, "left node"),
        ({"visits": {"on_site": 2}}, "visit 1 of 'on_site' is over"),
    ],
)
def test_stale_schedules_send_nothing(
    cfg: TenantConfig, now: list[datetime], change: dict[str, Any], why: str
) -> None:
    tickets, ticket = parked(cfg, WANG)
    tickets.tickets[("acme-home", "TK-1")] = ticket.model_copy(update=change)
    sender = FakeSender()
    result = fire(fire_deps(tickets, sender), cfg, request("yellow"))
    assert result.outcome == "stale" and why in result.reason
    assert sender.sent == []


def test_unknown_ticket_is_stale(cfg: TenantConfig, now: list[datetime]) -> None:
    result = fire(fire_deps(FakeTickets()), cfg, request("yellow"))
    assert result.outcome == "stale" and result.reason == "the ticket does not exist"


def test_a_ticket_keeps_the_sla_policy_it_was_created_with(cfg: TenantConfig) -> None:
    from shared.sla_clock import policy_of

    # Given the tenant later points install at a new policy
    strict = cfg.sla_policies["install-standard"].model_copy()
    types = {**cfg.ticket_types, "install": cfg.ticket_types["install"].model_copy(update={"sla": "strict"})}
    changed = cfg.model_copy(
        update={"sla_policies": {**cfg.sla_policies, "strict": strict}, "ticket_types": types}
    )
    # Then a ticket created under install-standard keeps it, a new one gets the new policy
    pinned = ticket_on("on_site", WANG, sla_policy="install-standard")
    found = policy_of(changed, pinned)
    assert found is not None and found[0] == "install-standard"
    fresh = policy_of(changed, ticket_on("on_site", WANG))
    assert fresh is not None and fresh[0] == "strict"
    # and a pinned policy the tenant file no longer has falls back to the type's current one
    gone = policy_of(changed, ticket_on("on_site", WANG, sla_policy="retired"))
    assert gone is not None and gone[0] == "strict"


def test_each_person_gets_one_language_theirs_else_the_tenants(
    cfg: TenantConfig, now: list[datetime]
) -> None:
    # Given acme-home (a Chinese tenant by its time zone) where the supervisor reads English
    users = [u.model_copy(update={"locale": "en"}) if u.id == "u-zhao" else u for u in cfg.users]
    mixed = cfg.model_copy(update={"users": users})
    tickets, _ = parked(mixed, LI)
    sender = FakeSender()
    fire(fire_deps(tickets, sender), mixed, request("orange"))
    by_phone = {to: text for channel, to, text in sender.sent if channel == "sms"}
    technician, supervisor = by_phone["+8613800000002"], by_phone["+8613800000012"]
    assert "橙色" in technician and "reminder" not in technician
    assert "orange reminder" in supervisor and "工单" not in supervisor
    # And a tenant whose own locale is English writes to everyone in English
    english = cfg.model_copy(update={"tenant": cfg.tenant.model_copy(update={"locale": "en"})})
    tickets, _ = parked(english, LI)
    sender = FakeSender()
    fire(fire_deps(tickets, sender), english, request("orange"))
    assert all("工单" not in text for _, _, text in sender.sent)


def test_the_default_locale_follows_the_tenants_time_zone(cfg: TenantConfig) -> None:
    assert cfg.tenant.default_locale == "zh-CN"
    berlin = cfg.tenant.model_copy(update={"timezone": "Europe/Berlin"})
    assert berlin.default_locale == "en"
