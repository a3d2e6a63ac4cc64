"""A calendar change reschedules open timers: `fire` on fakes, `SchedulerSla.replan`/`reschedule`.

The ticket's SLA state keeps the digest of the policy and calendar it was computed with. A
reminder that finds another digest in the tenant's configuration recomputes the clock from the
business time already used (on the new calendar), replaces the schedules and updates
`ticket.sla`; it sends only if its own level is already due on the new clock.
"""

from __future__ import annotations

from datetime import datetime

from functions.reminders.fire import FireDeps, ReminderEvent, fire
from shared.domain.ticket import Assignee, Ticket, TicketEvent
from shared.repositories.reminders import marker_key
from shared.sla import sla_digest
from shared.sla_clock import SchedulerSla, digest_of
from shared.tenant.models import TenantConfig
from tests.fakes import FakeTickets
from tests.unit import test_sla_reminders as reminders
from tests.unit.test_sla_reminders import FakeMarkers, FakeSchedules, FakeSender, sh, ticket_on

WANG = Assignee(kind="technician", id="t-wang")
NAME = "acme-home-TK-1-on_site-1-{}"


# the same fixtures as the reminders' tests: acme-home's example, the clock at Monday 09:00
cfg = reminders.cfg
now = reminders.now


def with_hours(cfg: TenantConfig, weekdays: list[str]) -> TenantConfig:
    """`cfg` with other Monday-to-Friday hours in its `default` calendar (what a redeploy changes)."""
    default = cfg.calendars["default"]
    hours = {**default.working_hours, "mon-fri": weekdays}
    changed = default.model_copy(update={"working_hours": hours})
    return cfg.model_copy(update={"calendars": {**cfg.calendars, "default": changed}})


class World:
    """An urgent install ticket on on_site from Monday 09:00 (4 h: yellow 11:00, orange 13:12, red 14:00)."""

    def __init__(self, cfg: TenantConfig) -> None:
        self.schedules = FakeSchedules()
        self.sla = SchedulerSla(self.schedules, "arn:fire")
        self.tickets = FakeTickets()
        self.sender = FakeSender()
        ticket = ticket_on("on_site", WANG)
        state = self.sla.start(cfg, ticket, "on_site")
        self.ticket = ticket.model_copy(update={"sla": state})
        self.tickets.create(self.ticket, TicketEvent(at=sh(23, 9), actor="u-lin", kind="created", version=1))
        self.deps = FireDeps(
            tickets=self.tickets,
            markers=FakeMarkers(),
            sender=self.sender,
            marker_key=marker_key,
            sla=self.sla,
        )

    def fire(self, cfg: TenantConfig, level: str, generation: int = 0) -> dict[str, object]:
        event = ReminderEvent(
            tenant="acme-home", ticket_id="TK-1", node="on_site", visit=1, level=level, generation=generation
        )
        return fire(self.deps, cfg, event).answer()

    def stored(self) -> Ticket:
        return self.tickets.get("acme-home", "TK-1")

    def pending(self) -> dict[str, datetime]:
        return {name: when for name, (when, _payload) in self.schedules.pending.items()}


def test_the_sla_state_keeps_the_digest_of_its_policy_and_calendar(
    cfg: TenantConfig, now: list[datetime]
) -> None:
    world = World(cfg)
    state = world.ticket.sla
    assert state is not None
    policy = cfg.sla_policies["install-standard"]
    assert (
        state["digest"] == sla_digest(policy, cfg.calendars["default"]) == digest_of(cfg, "install-standard")
    )
    assert digest_of(with_hours(cfg, ["09:00-12:00", "14:00-18:00"]), "install-standard") != state["digest"]
    assert digest_of(cfg, "no-such-policy") is None


def test_an_unchanged_configuration_sends_as_before(cfg: TenantConfig, now: list[datetime]) -> None:
    world = World(cfg)
    now[0] = sh(23, 11)
    result = world.fire(cfg, "yellow")
    assert result["outcome"] == "sent" and len(world.sender.sent) == 1
    assert "generation" not in (world.stored().sla or {})


def test_a_longer_lunch_break_moves_the_later_levels_and_sends_nothing_now(
    cfg: TenantConfig, now: list[datetime]
) -> None:
    # Given yellow sent at 11:00 on the calendar the clock started with
    world = World(cfg)
    now[0] = sh(23, 11)
    assert world.fire(cfg, "yellow")["outcome"] == "sent"
    assert len(world.sender.sent) == 1
    # When lunch becomes 12:00-14:00 and the orange schedule fires at 13:12
    changed = with_hours(cfg, ["09:00-12:00", "14:00-18:00"])
    now[0] = sh(23, 13, 12)
    result = world.fire(changed, "orange")
    # Then nothing is sent: 3 h used (09-12), orange (3 h 12 m) comes at 14:12, red (4 h) at 15:00
    assert result["outcome"] == "rescheduled" and "orange" in str(result["reason"])
    assert len(world.sender.sent) == 1
    assert world.pending() == {
        NAME.format("yellow"): sh(23, 11),  # fired on AWS it is gone; the fake keeps it
        NAME.format("orange"): sh(23, 13, 12),  # chained by yellow, firing now: it deletes itself
        NAME.format("orange-g1"): sh(23, 14, 12),  # the next level only: red-g1 is chained from it
    }
    assert world.schedules.pending[NAME.format("orange-g1")][1]["generation"] == 1
    state = world.stored().sla
    assert state is not None
    assert state["deadline"] == sh(23, 15).isoformat() and state["generation"] == 1
    assert state["digest"] == digest_of(changed, "install-standard")
    assert state["consumed"] == 0 and state["entered_at"] == sh(23, 9).isoformat()  # the clock's start stays
    assert [(lv["name"], lv["fired"], lv.get("gen", 0)) for lv in state["levels"]] == [
        ("yellow", True, 0),
        ("orange", False, 1),
        ("red", False, 1),
    ]
    assert state["level"] == "yellow" and state["breached"] is False
    assert world.stored().version == world.ticket.version  # no pending action made stale
    assert [e.kind for e in world.tickets.history("acme-home", "TK-1")][-1] == "sla_rescheduled"
    # And the old orange retried is stale; the moved orange sends at 14:12, once
    assert world.fire(changed, "orange")["outcome"] == "stale"
    now[0] = sh(23, 14, 12)
    sent = world.fire(changed, "orange", generation=1)
    # + t-wang, u-zhao: sms, email and wecom (orange's channels in acme-home)
    assert sent["outcome"] == "sent" and len(world.sender.sent) == 1 + 6
    assert "2026-11-23 15:00 (Asia/Shanghai)" in world.sender.sent[-1][2]
    assert world.pending()[NAME.format("red-g1")] == sh(23, 15)  # chained by orange-g1
    assert world.fire(changed, "orange", generation=1)["sent"] == []
    # And leaving the node deletes the moved schedules still pending (the fired orange deleted
    # itself after completion, as Scheduler does with ActionAfterCompletion DELETE)
    world.schedules.pending.pop(NAME.format("orange-g1"))
    world.sla.stop(changed, world.stored(), "on_site")
    assert not [name for name in world.pending() if name.endswith("-g1")]


def test_a_change_that_makes_the_level_due_sends_it_once(cfg: TenantConfig, now: list[datetime]) -> None:
    # Given yellow sent at 11:00
    world = World(cfg)
    now[0] = sh(23, 11)
    world.fire(cfg, "yellow")
    # When the lunch break is dropped (09:00-18:00) and the orange schedule fires at 13:12
    changed = with_hours(cfg, ["09:00-18:00"])
    now[0] = sh(23, 13, 12)
    result = world.fire(changed, "orange")
    # Then 4 h 12 m were used: orange (3 h 12 m) is due, so it is sent now, to its six addresses,
    assert result["outcome"] == "sent"
    orange = [(c, to) for c, to, _ in world.sender.sent[1:7]]
    assert orange == [
        ("sms", "+8613800000001"),
        ("email", "wang@acme.example"),
        ("wecom", "WangShifu"),
        ("sms", "+8613800000012"),
        ("email", "zhao@acme.example"),
        ("wecom", "ZhaoGang"),
    ]
    assert all("[SLA TK-1 orange]" in body for _c, _to, body in world.sender.sent[1:7])
    # with the deadline of the new calendar (4 h from 09:00 without lunch: 13:00)
    assert "2026-11-23 13:00 (Asia/Shanghai)" in world.sender.sent[5][2]
    # and red, overdue too on the new clock (13:00), is sent by the same invocation (the chain
    # catches up), once, and breaches
    red = [body for _c, _to, body in world.sender.sent[7:]]
    assert red and all("[SLA TK-1 red]" in body for body in red)
    assert result["breached"] is True
    state = world.stored().sla
    assert state is not None and state["level"] == "red" and state["breached"] is True
    assert [(lv["name"], lv["fired"], lv.get("gen", 0)) for lv in state["levels"]] == [
        ("yellow", True, 0),
        ("orange", True, 0),
        ("red", True, 1),
    ]
    sent = len(world.sender.sent)
    # When the scheduler retries the same orange schedule, nobody gets anything twice
    again = world.fire(changed, "orange")
    assert again["outcome"] == "sent" and again["sent"] == [] and again["breached"] is False
    # And the red-g1 schedule the reschedule made (a minute from then) sends nothing when it fires
    assert world.pending()[NAME.format("red-g1")] == sh(23, 13, 13)
    now[0] = sh(23, 13, 13)
    late = world.fire(changed, "red", generation=1)
    assert late["sent"] == [] and late["breached"] is False
    assert len(world.sender.sent) == sent


def test_without_a_rescheduler_a_change_is_not_acted_on(cfg: TenantConfig, now: list[datetime]) -> None:
    world = World(cfg)
    world.deps.sla = None
    now[0] = sh(23, 11)
    result = world.fire(with_hours(cfg, ["09:00-12:00", "14:00-18:00"]), "yellow")
    assert result["outcome"] == "sent" and "generation" not in (world.stored().sla or {})


def test_a_paused_clock_is_not_replanned(cfg: TenantConfig, now: list[datetime]) -> None:
    world = World(cfg)
    paused = world.ticket.model_copy(update={"sla": {**(world.ticket.sla or {}), "paused": True}})
    assert world.sla.replan(cfg, paused) is None
