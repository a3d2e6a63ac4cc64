"""SLA clocks in business time: when a node's budget runs out and when each reminder level is due.

A policy gives a node a business-time *budget* per priority, and *levels* at a share of it
(`yellow` at 50%, `red` at 100%). A level is due once that share of the budget has been used,
counting only the open hours of the policy's calendar.

Pauses: while a ticket sits on one of the policy's `pause_on_nodes` the clock stands still.
The business time used before the pause (`consumed`) is kept; when the ticket comes back
the clock counts on from there, so every instant moves by the paused time.

Instants are rounded up to the whole second (EventBridge Scheduler's `at()` resolution),
so a reminder is never early. Pure logic: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from shared.calendar import BusinessCalendar
from shared.tenant.models import Calendar, SlaPolicy

__all__ = ["LevelDue", "SlaPlan", "level_offset", "plan", "seconds", "sla_digest"]

_MICRO = timedelta(microseconds=1)
_ZERO = timedelta(0)


@dataclass(frozen=True)
class LevelDue:
    name: str
    offset: timedelta
    """Business time from the start of the node's budget to this level."""
    at: datetime
    """When the level is due (calendar time zone); for a level already passed before a pause,
    the instant counting resumed."""
    passed: bool = False
    """Reached before the clock was paused: not scheduled again."""


@dataclass(frozen=True)
class SlaPlan:
    node: str
    priority: str
    budget: timedelta
    consumed: timedelta
    """Business time used before `entered_at` (earlier visits cut by a pause)."""
    entered_at: datetime
    deadline: datetime
    levels: tuple[LevelDue, ...]


def level_offset(budget: timedelta, share: Decimal) -> timedelta:
    """`share` percent of `budget`, exact to the microsecond (rounded up)."""
    micros = Decimal(budget // _MICRO) * share / Decimal(100)
    return timedelta(microseconds=int(micros.to_integral_value(rounding=ROUND_CEILING)))


def plan(
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    node: str,
    priority: str,
    entered_at: datetime,
    consumed: timedelta = _ZERO,
) -> SlaPlan | None:
    """The deadline and level instants of `node` entered at `entered_at`; None without a budget.

    `consumed` is business time of this node's budget already used before a pause.
    """
    start = entered_at.astimezone(calendar.tz)
    budget = policy.budget(node, priority)
    days = policy.budget_days(node, priority)
    if budget is None and days is not None:
        # Business days: the same time of day that many working days after the clock starts,
        # as business time, so the levels' shares and pauses count the same way.
        budget = calendar.business_days_budget(start, days)
    if budget is None:
        return None
    if consumed < _ZERO:
        raise ValueError(f"consumed time {consumed} is negative")

    def due(offset: timedelta) -> datetime:
        return _ceil_second(calendar.add_business_time(start, max(offset - consumed, _ZERO)))

    levels = tuple(
        LevelDue(level.name, offset, due(offset), passed=offset <= consumed and consumed > _ZERO)
        for level in policy.levels
        for offset in [level_offset(budget, level.at)]
    )
    return SlaPlan(
        node=node,
        priority=priority,
        budget=budget,
        consumed=consumed,
        entered_at=start,
        deadline=due(budget),
        levels=levels,
    )


def sla_digest(policy: SlaPolicy, calendar: Calendar) -> str:
    """A digest of what a clock was computed with: the policy and its calendar (16 hex digits).

    Stored on the ticket's SLA state; a reminder that finds the tenant's configuration with
    another digest reschedules the clock (a calendar or policy change moves open timers).
    """
    text = json.dumps(
        {
            "policy": policy.model_dump(mode="json", by_alias=True),
            "calendar": calendar.model_dump(mode="json", by_alias=True),
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def seconds(duration: timedelta) -> int | float:
    """A duration as JSON seconds: an int when whole."""
    value = duration.total_seconds()
    return int(value) if value == int(value) else value


def _ceil_second(instant: datetime) -> datetime:
    if instant.microsecond == 0:
        return instant
    whole = math.floor(instant.astimezone(UTC).timestamp()) + 1
    return datetime.fromtimestamp(whole, UTC).astimezone(instant.tzinfo)
