"""`SchedulerSla`: the ticket service's SLA port, backed by one-time EventBridge Scheduler schedules.

When a ticket parks on a node its SLA policy times, one `at()` schedule per level is created,
named `schedule_name(tenant, ticket_id, node, visit, level)` and targeting the reminders
function with `{"tenant", "ticket_id", "node", "visit", "level"}`. Leaving the node deletes
them; a schedule that fires late anyway is dropped by the reminders function (stale visit).

The SLA state stored on the ticket (`ticket.sla`, shown by `GET /tickets/{id}`):

| key | value |
|---|---|
| `policy`, `node`, `priority`, `visit` | what is being timed |
| `budget`, `consumed` | business seconds: the budget; used before `entered_at` (or `paused_at`) |
| `entered_at`, `deadline` | ISO instants in the calendar's time zone |
| `levels` | `[{"name", "at", "fired"}]`, in the policy's order |
| `level` | the last level fired (null before the first) |
| `breached` | true once the last level fired |
| `paused`, `paused_at`, `paused_on` | the clock stands still on a `pause_on_nodes` node |
| `paused_time` | business seconds paused so far on this node's clock |

Pause: entering a pause node freezes the state of the node that was timed (the business time
used is added to `consumed`); coming back to that node resumes with the remaining budget, so
its deadline and levels move by the paused time. A level already reached before the pause is
kept as it was and not scheduled again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from shared.adapters.scheduler import schedule_name
from shared.calendar import BusinessCalendar
from shared.clock import now
from shared.domain.ticket import Ticket
from shared.sla import SlaPlan, plan, seconds
from shared.tenant.models import Calendar, SlaPolicy, TenantConfig

DEFAULT_PRIORITY = "normal"


class OneTimeSchedules(Protocol):
    """What `shared.adapters.scheduler.OneTimeScheduler` offers."""

    def at(self, name: str, when: datetime, target_arn: str, payload: dict[str, Any]) -> None: ...
    def delete(self, name: str) -> None: ...


def reminder_schedule_name(tenant: str, ticket_id: str, node: str, visit: int, level: str) -> str:
    return schedule_name(tenant, ticket_id, node, str(visit), level)


def policy_of(cfg: TenantConfig, ticket_type: str) -> tuple[str, SlaPolicy] | None:
    """The SLA policy (name, policy) of a ticket type, if it has one."""
    kind = cfg.ticket_types.get(ticket_type)
    if kind is None or kind.sla is None or kind.sla not in cfg.sla_policies:
        return None
    return kind.sla, cfg.sla_policies[kind.sla]


def priority_of(ticket: Ticket) -> str:
    return str(ticket.fields.get("priority") or DEFAULT_PRIORITY)


_calendars: dict[tuple[str, str], tuple[Calendar, BusinessCalendar]] = {}


def calendar_of(cfg: TenantConfig, policy: SlaPolicy) -> BusinessCalendar:
    """The policy's business calendar, built once per tenant configuration (holiday tables are cached)."""
    key = (cfg.tenant.id, policy.calendar)
    config = cfg.calendars[policy.calendar]
    cached = _calendars.get(key)
    if cached is None or cached[0] != config:
        cached = _calendars[key] = (config, BusinessCalendar.from_config(config))
    return cached[1]


class SchedulerSla:
    """Implements `shared.ports.SlaScheduler` with one-time schedules targeting the reminders function."""

    def __init__(self, schedules: OneTimeSchedules, target_arn: str) -> None:
        self.schedules = schedules
        self.target_arn = target_arn

    @classmethod
    def from_environment(cls) -> SchedulerSla:
        """The AWS wiring: the schedule group, role and reminders function from the environment."""
        from shared.adapters.scheduler import OneTimeScheduler
        from shared.settings import settings

        return cls(OneTimeScheduler(), settings().reminder_function_arn)

    # ----------------------------------------------------------------- the port

    def start(self, cfg: TenantConfig, ticket: Ticket, node: str) -> dict[str, Any] | None:
        found = policy_of(cfg, ticket.type)
        if found is None:
            return None
        name, policy = found
        previous = ticket.sla or {}
        if node in policy.pause_on_nodes:
            return self._pause(cfg, policy, previous, node)
        priority = priority_of(ticket)
        if policy.budget(node, priority) is None:
            return None
        visit = ticket.visits.get(node, 0)
        same_visit = previous.get("node") == node and previous.get("visit") == visit
        if same_visit and not previous.get("paused"):
            self._schedule(ticket, node, visit, previous)  # a retried park: the same names, no duplicates
            return previous
        resuming = (
            bool(previous.get("paused"))
            and previous.get("node") == node
            and previous.get("policy") == name
            and previous.get("priority") == priority
        )
        calendar = calendar_of(cfg, policy)
        instant = now()
        consumed = timedelta(seconds=previous.get("consumed", 0)) if resuming else timedelta(0)
        paused_time = timedelta(0)
        if resuming:
            paused_time = timedelta(seconds=previous.get("paused_time", 0)) + max(
                calendar.business_time_between(datetime.fromisoformat(previous["paused_at"]), instant),
                timedelta(0),
            )
        due = plan(policy, calendar, node, priority, instant, consumed)
        assert due is not None  # the budget exists (checked above)
        fired_before = {lv["name"]: lv.get("fired", False) for lv in previous.get("levels", [])}
        state = _state(name, due, visit, paused_time, fired_before if resuming else {})
        if resuming:
            state["level"] = previous.get("level")
            state["breached"] = bool(previous.get("breached"))
        self._schedule(ticket, node, visit, state)
        return state

    def stop(self, cfg: TenantConfig, ticket: Ticket, node: str) -> None:
        found = policy_of(cfg, ticket.type)
        if found is None:
            return
        _name, policy = found
        if node not in policy.targets:
            return
        visit = ticket.visits.get(node, 0)
        for level in policy.levels:
            self.schedules.delete(reminder_schedule_name(ticket.tenant, ticket.id, node, visit, level.name))

    # ----------------------------------------------------------------- internals

    def _pause(
        self, cfg: TenantConfig, policy: SlaPolicy, previous: dict[str, Any], node: str
    ) -> dict[str, Any] | None:
        """Freeze the timed node's state while the ticket waits on a pause node."""
        if not previous or previous.get("paused") or previous.get("node") == node:
            return previous or None
        instant = now()
        calendar = calendar_of(cfg, policy)
        used = calendar.business_time_between(datetime.fromisoformat(previous["entered_at"]), instant)
        consumed = timedelta(seconds=previous.get("consumed", 0)) + max(used, timedelta(0))
        return {
            **previous,
            "consumed": seconds(consumed),
            "paused": True,
            "paused_at": instant.astimezone(calendar.tz).isoformat(),
            "paused_on": node,
        }

    def _schedule(self, ticket: Ticket, node: str, visit: int, state: dict[str, Any]) -> None:
        for level in state.get("levels", []):
            if level.get("fired") or level.get("passed"):
                continue
            payload = {
                "tenant": ticket.tenant,
                "ticket_id": ticket.id,
                "node": node,
                "visit": visit,
                "level": level["name"],
            }
            name = reminder_schedule_name(ticket.tenant, ticket.id, node, visit, level["name"])
            self.schedules.at(name, datetime.fromisoformat(level["at"]), self.target_arn, payload)


def _state(
    policy: str, due: SlaPlan, visit: int, paused_time: timedelta, fired_before: dict[str, bool]
) -> dict[str, Any]:
    levels = []
    for level in due.levels:
        entry: dict[str, Any] = {"name": level.name, "at": level.at.isoformat(), "fired": False}
        if level.passed:
            entry.update(passed=True, fired=fired_before.get(level.name, False))
        levels.append(entry)
    return {
        "policy": policy,
        "node": due.node,
        "priority": due.priority,
        "visit": visit,
        "budget": seconds(due.budget),
        "consumed": seconds(due.consumed),
        "entered_at": due.entered_at.isoformat(),
        "deadline": due.deadline.isoformat(),
        "levels": levels,
        "level": None,
        "breached": False,
        "paused": False,
        "paused_at": None,
        "paused_on": None,
        "paused_time": seconds(paused_time),
    }
