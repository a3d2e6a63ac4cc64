"""`calendars` (`Calendar`: opening hours, holidays, days off) and `sla_policies`
(`SlaPolicy`: budgets per node and priority, reminder levels)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from shared.tenant.models.amounts import Share
from shared.tenant.models.base import _Model
from shared.tenant.models.formats import Ident, TimeZoneName
from shared.tenant.models.times import (
    WEEKDAYS,
    Budget,
    business_days,
    expand_days,
    parse_clock_range,
    parse_duration,
)


class Calendar(_Model):
    timezone: TimeZoneName
    working_hours: dict[str, list[str]]
    holidays: str | None = None
    """Country (`CN`) or country-subdivision (`DE-BE`) whose public holidays are closed."""
    days_off: list[date] = []
    workdays: list[date] = []
    """Extra working days (调休); they use the Monday-to-Friday hours."""

    @field_validator("working_hours")
    @classmethod
    def _check_hours(cls, hours: dict[str, list[str]]) -> dict[str, list[str]]:
        owner: dict[int, str] = {}
        for key, ranges in hours.items():
            for day in expand_days(key):
                if day in owner:
                    raise ValueError(
                        f"{WEEKDAYS[day]} is covered by both {owner[day]!r} and {key!r}; list each day once"
                    )
                owner[day] = key
            spans = sorted(parse_clock_range(text) for text in ranges)
            for (_, end), (start, _) in pairwise(spans):
                if start < end:
                    raise ValueError(f"the hours of {key!r} overlap; make the ranges not overlap")
        return hours

    def opening_minutes(self) -> dict[int, list[tuple[int, int]]]:
        """Weekday (0 = Monday) → sorted open ranges in minutes since midnight; closed days are `[]`."""
        week: dict[int, list[tuple[int, int]]] = {day: [] for day in range(7)}
        for key, ranges in self.working_hours.items():
            spans = sorted(parse_clock_range(text) for text in ranges)
            for day in expand_days(key):
                week[day] = spans
        return week


_RECIPIENT = re.compile(r"assignee|supervisor|(role|user):[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


def _check_recipient(value: str) -> str:
    if not _RECIPIENT.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a recipient; use assignee, supervisor, role:<role> or user:<user id>"
        )
    return value


class SlaLevel(_Model):
    name: Ident
    at: Share
    """Percent of the node's budget (`"50%"` → `Decimal("50")`)."""
    notify: list[Annotated[str, AfterValidator(_check_recipient)]] = Field(min_length=1)
    channels: list[Literal["sms", "email", "wecom"]] = Field(min_length=1)
    """``wecom``: a WeCom application message (``wecom_app``) to each recipient's ``wecom_user``."""


class SlaPolicy(_Model):
    calendar: str
    targets: dict[str, dict[str, Budget]] = {}
    """Node → priority → business-time budget (`"4h"`) or business days (`"2bd"`)."""
    levels: list[SlaLevel] = []
    pause_on_nodes: list[str] = []

    def budget(self, node: str, priority: str) -> timedelta | None:
        """The business-time budget of `node` for `priority`, if the policy sets one as a duration.

        A budget in business days (`"2bd"`) depends on when the clock starts: `budget_days`."""
        text = self.targets.get(node, {}).get(priority)
        if text is None or business_days(text) is not None:
            return None
        return parse_duration(text)

    def budget_days(self, node: str, priority: str) -> int | None:
        """Business days of `node` for `priority` when the policy counts in days (`"2bd"`)."""
        text = self.targets.get(node, {}).get(priority)
        return business_days(text) if text is not None else None

    def has_budget(self, node: str, priority: str) -> bool:
        return self.targets.get(node, {}).get(priority) is not None
