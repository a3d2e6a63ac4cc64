"""`SchedulerSla`: the ticket service's SLA port, backed by one-time EventBridge Scheduler schedules.

When a ticket parks on a node its SLA policy times, one `at()` schedule is created for the
clock's next level, named `schedule_name(tenant, ticket_id, node, visit, level)` and targeting
the reminders function with `{"tenant", "ticket_id", "node", "visit", "level"}`. The levels are
**chained** (`chained: true` on the state): when a level fires, the reminders function sends it
and creates the schedule of the next level (`SchedulerSla.chain`), or sends the next one at once
when it is already due. So a clock has at most one schedule at a time: parking costs one
CreateSchedule and leaving the node one DeleteSchedule, whatever the policy's number of levels
(Scheduler's CreateSchedule and DeleteSchedule rates are account-wide: see `infra/quotas.py`).
A schedule that fires late anyway is dropped by the reminders function (stale visit). A clock
stored before chaining (no `chained`) had every level scheduled at once and is stopped as such.

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
| `digest` | `sla_digest(policy, calendar)` of the configuration the instants were computed with |
| `generation` | how many times the open timers were rescheduled (0 at first) |
| `chained` | true: only the next pending level has a schedule (absent on clocks made before) |

A level may also carry `gen`: the generation of the schedule that will send it (absent = 0).
Schedules of generation 0 are named `schedule_name(tenant, ticket, node, visit, level)`; later
generations add `-g<n>`, and their payload carries `"generation": n`. A fired schedule whose
generation is not its level's is stale (the timer was moved).

Calendar change: when a reminder fires and the tenant's configuration now gives another
`digest` for the ticket's policy and calendar, `replan` recomputes the clock from the business
time already used (measured on the new calendar up to now), `reschedule` creates the new
schedules (next generation) and deletes the old ones, and the reminders function stores the
new state; it sends for that fire only if its level is already due on the new clock.

Pause: entering a pause node freezes the state of the node that was timed (the business time
used is added to `consumed`); coming back to that node resumes with the remaining budget, so
its deadline and levels move by the paused time. A level already reached before the pause is
kept as it was and not scheduled again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from shared.calendar import BusinessCalendar
from shared.clock import now
from shared.domain.ticket import Ticket
from shared.domain.timers import schedule_name
from shared.sla import SlaPlan, plan, seconds, sla_digest
from shared.tenant.models import Calendar, SlaPolicy, TenantConfig

DEFAULT_PRIORITY = "normal"
RESCHEDULE_LEAD = timedelta(minutes=1)
"""A rescheduled level that is already due (not the one firing) fires this long after now."""


class OneTimeSchedules(Protocol):
    """What `shared.adapters.scheduler.OneTimeScheduler` offers."""

    def at(self, name: str, when: datetime, target_arn: str, payload: dict[str, Any]) -> None: ...
    def delete(self, name: str) -> None: ...


def reminder_schedule_name(
    tenant: str, ticket_id: str, node: str, visit: int, level: str, generation: int = 0
) -> str:
    if generation:
        return schedule_name(tenant, ticket_id, node, str(visit), level, f"g{generation}")
    return schedule_name(tenant, ticket_id, node, str(visit), level)


def digest_of(cfg: TenantConfig, policy_name: str) -> str | None:
    """The digest of a policy and its calendar in `cfg` (None if either is gone)."""
    policy = cfg.sla_policies.get(policy_name)
    if policy is None or policy.calendar not in cfg.calendars:
        return None
    return sla_digest(policy, cfg.calendars[policy.calendar])


@dataclass(frozen=True)
class Replan:
    """A clock recomputed on the tenant's current policy and calendar (see `SchedulerSla.replan`)."""

    state: dict[str, Any]
    """The new `ticket.sla`."""
    due_now: frozenset[str]
    """Levels not yet fired whose instant has already come on the new clock."""


def policy_of(cfg: TenantConfig, ticket: Ticket) -> tuple[str, SlaPolicy] | None:
    """The SLA policy (name, policy) the ticket runs under: the one pinned when it was created,
    while the tenant file still has it; else its ticket type's current one, if any."""
    if ticket.sla_policy and ticket.sla_policy in cfg.sla_policies:
        return ticket.sla_policy, cfg.sla_policies[ticket.sla_policy]
    kind = cfg.ticket_types.get(ticket.type)
    if kind is None or kind.sla is None or kind.sla not in cfg.sla_policies:
        return None
    return kind.sla, cfg.sla_policies[kind.sla]


def priority_of(ticket: Ticket) -> str:
    return str(ticket.fields.get("priority") or DEFAULT_PRIORITY)


_calendars: dict[tuple[str, str], tuple[Calendar, BusinessCalendar]] = {}


def calendar_of(cfg: TenantConfig, policy: SlaPolicy) -> BusinessCalendar:
    """The policy's business calendar, built once per tenant configuration (holiday tables are cached)."""
    return calendar_by_name(cfg, policy.calendar)


def calendar_by_name(cfg: TenantConfig, name: str) -> BusinessCalendar:
    """The tenant's calendar `name`, built once per tenant configuration (holiday tables are cached)."""
    key = (cfg.tenant.id, name)
    config = cfg.calendars[name]
    cached = _calendars.get(key)
    if cached is None or cached[0] != config:
        cached = _calendars[key] = (config, BusinessCalendar.from_config(config))
    return cached[1]


class SchedulerSla:
    """Implements `shared.ports.SlaScheduler` with one-time schedules targeting the reminders function
    (built for AWS by ``shared.adapters.scheduler.sla_scheduler``)."""

    def __init__(self, schedules: OneTimeSchedules, target_arn: str) -> None:
        self.schedules = schedules
        self.target_arn = target_arn

    # ----------------------------------------------------------------- the port

    def start(self, cfg: TenantConfig, ticket: Ticket, node: str) -> dict[str, Any] | None:
        found = policy_of(cfg, ticket)
        if found is None:
            return None
        name, policy = found
        previous = ticket.sla or {}
        if node in policy.pause_on_nodes:
            return self._pause(cfg, policy, previous, node)
        priority = priority_of(ticket)
        if not policy.has_budget(node, priority):
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
        state["digest"] = sla_digest(policy, cfg.calendars[policy.calendar])
        if resuming:
            state["level"] = previous.get("level")
            state["breached"] = bool(previous.get("breached"))
        self._schedule(ticket, node, visit, state)
        return state

    def stop(self, cfg: TenantConfig, ticket: Ticket, node: str) -> None:
        found = policy_of(cfg, ticket)
        if found is None:
            return
        _name, policy = found
        if node not in policy.targets:
            return
        visit = ticket.visits.get(node, 0)
        sla = ticket.sla or {}
        if sla.get("node") == node and sla.get("visit") == visit:
            # Only the levels still pending: a fired schedule deleted itself (ActionAfterCompletion
            # DELETE), so deleting it again is a wasted call against Scheduler's API rate.
            pending = _pending(sla)
            if sla.get("chained"):
                pending = pending[:1]  # the only level with a schedule
            if sla.get("paused"):
                pending = []  # deleted when the ticket left this node for the pause node
            names = {self._names(ticket, {**sla, "levels": pending})[lv["name"]] for lv in pending}
        else:
            # No stored clock for this visit (a park that created schedules but never saved its
            # state): every level's first-generation name, so none is left behind.
            names = {
                reminder_schedule_name(ticket.tenant, ticket.id, node, visit, lv.name) for lv in policy.levels
            }
        for name in sorted(names):
            self.schedules.delete(name)

    def replan(self, cfg: TenantConfig, ticket: Ticket, firing: str | None = None) -> Replan | None:
        """The ticket's running clock recomputed on the current policy and calendar of `cfg`.

        The clock keeps its start (`entered_at`, with `consumed` used before it) and is counted
        on the *new* calendar, so the business time used so far is measured anew: a level whose
        instant has come by now is due, the others move to their new instants.

        Levels keep their `fired`; those not fired get the next generation, except `firing`
        (the level whose schedule runs now) when it is already due: it keeps its generation,
        so that schedule may send it. Levels already due are reported in `due_now`. None when
        the clock cannot be recomputed (no policy, no budget for the node any more) or is not
        running.
        """
        previous = ticket.sla or {}
        if not previous or previous.get("paused"):
            return None
        name = str(previous.get("policy"))
        policy = cfg.sla_policies.get(name)
        if policy is None or policy.calendar not in cfg.calendars:
            return None
        node, priority = str(previous["node"]), str(previous["priority"])
        if not policy.has_budget(node, priority):
            return None
        calendar = calendar_of(cfg, policy)
        instant = now()
        entered_at = datetime.fromisoformat(previous["entered_at"])
        consumed = timedelta(seconds=previous.get("consumed", 0))
        due = plan(policy, calendar, node, priority, entered_at, consumed)
        assert due is not None  # the budget exists (checked above)
        generation = int(previous.get("generation", 0)) + 1
        old = {lv.get("name"): lv for lv in previous.get("levels", [])}
        levels: list[dict[str, Any]] = []
        due_now: set[str] = set()
        for level in due.levels:
            before = old.get(level.name, {})
            entry: dict[str, Any] = {"name": level.name, "at": level.at.isoformat(), "fired": False}
            gen = generation
            if before.get("fired") or before.get("passed"):
                # reached already: never scheduled (nor sent) again
                entry.update(fired=bool(before.get("fired")), passed=bool(before.get("passed")))
                gen = int(before.get("gen", 0))
            elif level.at <= instant:
                due_now.add(level.name)
                if level.name == firing:
                    gen = int(before.get("gen", 0))  # the schedule firing now still owns it
            if not entry.get("passed"):
                entry.pop("passed", None)
            if gen:
                entry["gen"] = gen
            levels.append(entry)
        state = {
            **previous,
            "budget": seconds(due.budget),
            "consumed": seconds(due.consumed),
            "entered_at": due.entered_at.isoformat(),
            "deadline": due.deadline.isoformat(),
            "levels": levels,
            "digest": sla_digest(policy, cfg.calendars[policy.calendar]),
            "generation": generation,
        }
        return Replan(state, frozenset(due_now))

    def reschedule(
        self, ticket: Ticket, old: dict[str, Any], new: dict[str, Any], firing: str | None = None
    ) -> None:
        """Create the schedules of `new` (only the next generation's), then delete `old`'s.

        `firing` is the level whose schedule is running this very moment: its schedule is left
        alone (it deletes itself when done, and the scheduler may still retry it). A level of
        the next generation that is already due is scheduled `RESCHEDULE_LEAD` from now.
        """
        node, visit = str(new["node"]), int(new["visit"])
        generation = int(new.get("generation", 0))
        earliest = now() + RESCHEDULE_LEAD
        created: set[str] = set()
        for level in new.get("levels", []):
            if level.get("fired") or level.get("passed") or level.get("gen", 0) != generation:
                continue
            name = reminder_schedule_name(ticket.tenant, ticket.id, node, visit, level["name"], generation)
            when = max(datetime.fromisoformat(level["at"]), earliest)
            self.schedules.at(
                name, when, self.target_arn, _payload(ticket, node, visit, level["name"], generation)
            )
            created.add(name)
            if new.get("chained"):
                break  # one schedule per clock: the next level's
        keep = created | set(self._names(ticket, new).values())
        scheduled = _pending(old)[:1] if old.get("chained") else _pending(old)
        old_names = self._names(ticket, {**old, "levels": scheduled})
        for level_name, name in old_names.items():
            if level_name != firing and name not in keep:
                self.schedules.delete(name)

    def chain(self, ticket: Ticket, fired: str) -> str | None:
        """After level `fired` was sent on a chained clock: the next level to send, if it is
        already due (the caller sends it now, then chains again from it); otherwise its schedule is
        created (at its instant, never less than `RESCHEDULE_LEAD` from now) and None is answered.

        Idempotent: a retried fire creates the same name again (Scheduler answers Conflict).
        """
        sla = ticket.sla or {}
        if not sla.get("chained") or sla.get("paused"):
            return None
        names = [lv["name"] for lv in sla.get("levels", [])]
        if fired not in names:
            return None
        after = names.index(fired) + 1
        level = next(
            (lv for lv in sla["levels"][after:] if not lv.get("fired") and not lv.get("passed")), None
        )
        if level is None:
            return None
        instant = now()
        at = datetime.fromisoformat(level["at"])
        if at <= instant:
            return str(level["name"])
        node, visit, gen = str(sla["node"]), int(sla["visit"]), int(level.get("gen", 0))
        name = reminder_schedule_name(ticket.tenant, ticket.id, node, visit, level["name"], gen)
        when = max(at, instant + RESCHEDULE_LEAD)
        self.schedules.at(name, when, self.target_arn, _payload(ticket, node, visit, level["name"], gen))
        return None

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
        """The schedule of the clock's next level (every pending level's, on a clock made before
        chaining)."""
        pending = _pending(state)
        for level in pending[:1] if state.get("chained") else pending:
            gen = int(level.get("gen", 0))
            payload = _payload(ticket, node, visit, level["name"], gen)
            name = reminder_schedule_name(ticket.tenant, ticket.id, node, visit, level["name"], gen)
            self.schedules.at(name, datetime.fromisoformat(level["at"]), self.target_arn, payload)

    @staticmethod
    def _names(ticket: Ticket, state: dict[str, Any]) -> dict[str, str]:
        """Level -> the name of its schedule, for the levels of `state`."""
        node, visit = str(state.get("node")), int(state.get("visit", 0))
        return {
            lv["name"]: reminder_schedule_name(
                ticket.tenant, ticket.id, node, visit, lv["name"], int(lv.get("gen", 0))
            )
            for lv in state.get("levels", [])
        }


def _pending(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The levels of a clock not reached yet, in the policy's order."""
    return [lv for lv in state.get("levels", []) if not lv.get("fired") and not lv.get("passed")]


def _payload(ticket: Ticket, node: str, visit: int, level: str, generation: int) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "tenant": ticket.tenant,
        "ticket_id": ticket.id,
        "node": node,
        "visit": visit,
        "level": level,
    }
    if generation:
        payload["generation"] = generation
    return payload


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
        "chained": True,
    }
