"""Follow-up timers (回访): linked tickets opened a while after an event of a ticket.

A ticket type's `follow_ups` (`shared.tenant.models.follow_ups`) say which event starts each one
(`event`: `closed`, or `entered:<node>`), how long after (`after`, business time on `calendar` when it
names one) and which ticket type to open. When the event happens, `FollowUpTimers.plan` gives
the entries to store on the ticket (`ticket.follow_ups`) and `schedule` creates one `at()`
schedule per entry, targeting the ticket service's follow-up function with
`{"tenant", "ticket_id", "follow_up": key}`. When it fires, the function opens the linked ticket
(idempotent: its id is `<source id>-<key>`), unless the source was cancelled meanwhile.

An entry on the ticket:

| key | value |
|---|---|
| `key` | `<id>` for `closed`; `<id>-<visit>` for `entered:<node>` (one per visit of the node) |
| `id`, `event`, `ticket_type` | from the tenant file |
| `at` | ISO instant the follow-up is due |
| `status` | `pending` → `created` (with `ticket`) or `cancelled` (the source was cancelled first) |

Pure of AWS: the schedules come in as a port (`shared.adapters.scheduler.OneTimeScheduler`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from shared.domain.follow_ups import (
    CANCELLED,
    CREATED,
    FAILED,
    PENDING,
    child_id,
    follow_up_timer_name,
    pending,
)
from shared.domain.ticket import Ticket
from shared.sla_clock import RESCHEDULE_LEAD, calendar_by_name
from shared.tenant.models import FollowUp, TenantConfig
from shared.tenant.models.times import business_days, parse_duration


class OneTimeSchedules(Protocol):
    def at(self, name: str, when: datetime, target_arn: str, payload: dict[str, Any]) -> None: ...
    def delete(self, name: str) -> None: ...


def due_at(cfg: TenantConfig, follow_up: FollowUp, start: datetime) -> datetime:
    """When `follow_up` is due after an event at `start`: business time on its calendar, if any."""
    if follow_up.calendar is None:
        return start + parse_duration(follow_up.after)
    calendar = calendar_by_name(cfg, follow_up.calendar)
    days = business_days(follow_up.after)
    budget = (
        calendar.business_days_budget(start, days) if days is not None else parse_duration(follow_up.after)
    )
    return calendar.add_business_time(start, budget)


def entry_key(follow_up: FollowUp, visit: int | None) -> str:
    return follow_up.id if follow_up.entered_node is None else f"{follow_up.id}-{visit or 1}"


class FollowUpTimers:
    """Plans, schedules and cancels a ticket's follow-ups (built for AWS by
    ``shared.adapters.scheduler.follow_up_timers``)."""

    def __init__(self, schedules: OneTimeSchedules, target_arn: Callable[[], str]) -> None:
        self.schedules = schedules
        self.target_arn = target_arn

    def plan(self, cfg: TenantConfig, ticket: Ticket, event: str, instant: datetime) -> list[dict[str, Any]]:
        """The entries `event` (`closed` or `entered:<node>`) starts for `ticket`, in file order;
        those already on the ticket (a retried task) are not planned again."""
        kind = cfg.ticket_types.get(ticket.type)
        if kind is None:
            return []
        known = {entry.get("key") for entry in ticket.follow_ups}
        node = event.removeprefix("entered:") if event.startswith("entered:") else None
        entries: list[dict[str, Any]] = []
        for follow_up in kind.follow_ups:
            if follow_up.event != event:
                continue
            key = entry_key(follow_up, ticket.visits.get(node, 1) if node else None)
            if key in known:
                continue
            entries.append(
                {
                    "key": key,
                    "id": follow_up.id,
                    "event": follow_up.event,
                    "ticket_type": follow_up.ticket_type,
                    "at": due_at(cfg, follow_up, instant).isoformat(),
                    "status": PENDING,
                }
            )
        return entries

    def schedule(self, ticket: Ticket, entries: list[dict[str, Any]], instant: datetime) -> None:
        """One schedule per pending entry (a name per entry: creating it twice is harmless)."""
        for entry in entries:
            if entry.get("status") != PENDING:
                continue
            when = max(datetime.fromisoformat(entry["at"]), instant + RESCHEDULE_LEAD)
            payload = {"tenant": ticket.tenant, "ticket_id": ticket.id, "follow_up": entry["key"]}
            self.schedules.at(
                follow_up_timer_name(ticket.tenant, ticket.id, entry["key"]), when, self.target_arn(), payload
            )

    def cancel(self, ticket: Ticket) -> None:
        """Delete the schedules of the ticket's pending follow-ups (``cancelled`` marks the entries,
        in the cancelling change itself)."""
        for entry in pending(ticket.follow_ups):
            self.schedules.delete(follow_up_timer_name(ticket.tenant, ticket.id, entry["key"]))


def follow_up_of(cfg: TenantConfig, ticket: Ticket, key: str) -> tuple[dict[str, Any], FollowUp] | None:
    """The ticket's entry `key` and its definition in the tenant file (None if either is gone)."""
    entry = next((e for e in ticket.follow_ups if e.get("key") == key), None)
    kind = cfg.ticket_types.get(ticket.type)
    if entry is None or kind is None:
        return None
    definition = next((f for f in kind.follow_ups if f.id == entry.get("id")), None)
    return (entry, definition) if definition is not None else None


__all__ = [
    "CANCELLED",
    "CREATED",
    "FAILED",
    "PENDING",
    "FollowUpTimers",
    "child_id",
    "due_at",
    "follow_up_of",
    "follow_up_timer_name",
]
