"""SLA budgets in business days (`2bd`): the same time of day that many working days later."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.calendar import BusinessCalendar
from shared.sla import plan
from shared.tenant.models import Calendar, SlaPolicy

SH = ZoneInfo("Asia/Shanghai")
WEEK = BusinessCalendar.from_config(
    Calendar.model_validate({"timezone": "Asia/Shanghai", "working_hours": {"mon-fri": ["09:00-18:00"]}})
)


def policy(budget: str) -> SlaPolicy:
    return SlaPolicy.model_validate(
        {
            "calendar": "default",
            "targets": {"visit": {"normal": budget}},
            "levels": [{"name": "yellow", "at": "50%", "notify": ["assignee"], "channels": ["sms"]}],
        }
    )


@pytest.mark.parametrize(
    ("entered", "budget", "due"),
    [
        (
            datetime(2026, 11, 23, 8, 1, tzinfo=SH),
            "2bd",
            datetime(2026, 11, 24, 18, 0, tzinfo=SH),
        ),  # Mon early
        (datetime(2026, 11, 23, 10, 30, tzinfo=SH), "2bd", datetime(2026, 11, 25, 10, 30, tzinfo=SH)),
        (
            datetime(2026, 11, 27, 17, 0, tzinfo=SH),
            "1bd",
            datetime(2026, 11, 30, 17, 0, tzinfo=SH),
        ),  # Fri->Mon
        (datetime(2026, 11, 28, 12, 0, tzinfo=SH), "1bd", datetime(2026, 11, 30, 18, 0, tzinfo=SH)),  # Sat
    ],
)
def test_business_days_keep_the_time_of_day_or_end_at_a_closing(
    entered: datetime, budget: str, due: datetime
) -> None:
    planned = plan(policy(budget), WEEK, "visit", "normal", entered)
    assert planned is not None and planned.deadline == due
    # the levels count the same business time: yellow at half of it
    assert planned.levels[0].offset == planned.budget / 2


def test_2d_is_48_business_hours_and_validate_says_so() -> None:
    planned = plan(policy("2d"), WEEK, "visit", "normal", datetime(2026, 11, 23, 8, 1, tzinfo=SH))
    assert planned is not None and planned.budget == timedelta(hours=48)
    assert planned.deadline == datetime(2026, 11, 30, 12, 0, tzinfo=SH)  # 5 days of 9 h + 3 h


def test_zero_business_days_is_refused() -> None:
    with pytest.raises(ValueError, match="zero"):
        policy("0bd")
