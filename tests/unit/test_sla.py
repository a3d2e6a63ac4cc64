"""SLA maths (`shared/sla.py`): hand-computed deadlines and level instants, pauses, properties.

The policy is the example's `install-standard` on its `default` calendar: Monday to Friday
09:00-12:00 and 13:00-18:00 (8 h), Saturday 09:00-12:00 (3 h), Sunday closed, CN holidays
(2027-01-01 is one), 2026-12-31 off. 2026-11-23 is a Monday. Levels: yellow 50%, orange 80%,
red 100%.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.calendar import BusinessCalendar
from shared.sla import SlaPlan, level_offset, plan
from shared.tenant import load_tenant_file
from shared.tenant.models import SlaPolicy, TenantConfig

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tenants" / "acme-home.yaml"
SHANGHAI = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)
M = timedelta(minutes=1)
US = timedelta(microseconds=1)


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def acme() -> TenantConfig:
    config: TenantConfig = load_tenant_file(str(EXAMPLE))
    return config


@pytest.fixture(scope="module")
def policy(acme: TenantConfig) -> SlaPolicy:
    return acme.sla_policies["install-standard"]


@pytest.fixture(scope="module")
def calendar(acme: TenantConfig) -> BusinessCalendar:
    return BusinessCalendar.from_config(acme.calendars["default"])


def instants(due: SlaPlan | None) -> dict[str, datetime]:
    assert due is not None
    return {level.name: level.at for level in due.levels}


# --------------------------------------------------------------------------- hand-computed


def test_customer_confirm_entered_an_hour_before_closing(
    policy: SlaPolicy, calendar: BusinessCalendar
) -> None:
    # Given customer_confirm, normal: 8 h of business time, entered Monday 17:00
    due = plan(policy, calendar, "customer_confirm", "normal", sh(2026, 11, 23, 17))
    # Then yellow (4 h) = Mon 17-18 (1 h) + Tue 09-12 (3 h): Tuesday 12:00, the lunch break's start;
    # orange (6 h 24 m) = 1 h + 3 h + Tue 13:00-15:24; red (8 h) = 1 h + 3 h + Tue 13:00-17:00
    assert instants(due) == {
        "yellow": sh(2026, 11, 24, 12),
        "orange": sh(2026, 11, 24, 15, 24),
        "red": sh(2026, 11, 24, 17),
    }
    assert due is not None and due.deadline == sh(2026, 11, 24, 17)
    assert due.budget == 8 * H and due.consumed == timedelta(0)


@pytest.mark.parametrize(
    ("entered", "yellow", "orange", "red"),
    [
        # Friday 16:00: yellow (2 h) = Friday 18:00 (closing); orange (3 h 12 m) = 2 h + Saturday
        # 09:00-10:12; red (4 h) = Saturday 11:00
        pytest.param(
            sh(2026, 11, 27, 16), sh(2026, 11, 27, 18), sh(2026, 11, 28, 10, 12), sh(2026, 11, 28, 11),
            id="runs_into_saturday_morning",
        ),
        # Sunday 20:00 counts from Monday opening: Monday 09:00 + 2 h = 11:00; + 3 h 12 m = 12:00
        # then 13:00-13:12; + 4 h = 14:00
        pytest.param(
            sh(2026, 11, 29, 20), sh(2026, 11, 30, 11), sh(2026, 11, 30, 13, 12), sh(2026, 11, 30, 14),
            id="entered_on_sunday_counts_from_monday_opening",
        ),
        # Wednesday 2026-12-30 16:00; Thursday 12-31 is a day off, Friday 2027-01-01 a CN holiday
        pytest.param(
            sh(2026, 12, 30, 16), sh(2026, 12, 30, 18), sh(2027, 1, 2, 10, 12), sh(2027, 1, 2, 11),
            id="day_off_and_new_year_holiday_are_skipped",
        ),
    ],
)  # fmt: skip
def test_urgent_on_site_level_instants(
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    entered: datetime,
    yellow: datetime,
    orange: datetime,
    red: datetime,
) -> None:
    # Given on_site, urgent: 4 h
    due = plan(policy, calendar, "on_site", "urgent", entered)
    assert instants(due) == {"yellow": yellow, "orange": orange, "red": red}


def test_resumed_after_a_pause_counts_the_remaining_budget(
    policy: SlaPolicy, calendar: BusinessCalendar
) -> None:
    # Given on_site, normal (24 h), 3 h used before a pause, resumed Tuesday 09:00
    due = plan(policy, calendar, "on_site", "normal", sh(2026, 11, 24, 9), consumed=3 * H)
    # Then yellow (12 h) needs 9 h more: Tue 8 h + Wed 09:00-10:00;
    # orange (19 h 12 m) needs 16 h 12 m: Tue 8 h + Wed 8 h + Thu 09:00-09:12;
    # red (24 h) needs 21 h: Tue 8 h + Wed 8 h + Thu 09-12 (3 h) + 13:00-15:00
    assert instants(due) == {
        "yellow": sh(2026, 11, 25, 10),
        "orange": sh(2026, 11, 26, 9, 12),
        "red": sh(2026, 11, 26, 15),
    }
    assert due is not None and not any(level.passed for level in due.levels)


def test_a_pause_moves_every_instant_by_the_paused_business_time(
    policy: SlaPolicy, calendar: BusinessCalendar
) -> None:
    # Given on_site entered Monday 09:00, left for waiting_parts at 13:00 (3 h used: lunch is closed)
    entered, left, back = sh(2026, 11, 23, 9), sh(2026, 11, 23, 13), sh(2026, 11, 24, 9)
    used = calendar.business_time_between(entered, left)
    assert used == 3 * H
    unpaused = plan(policy, calendar, "on_site", "normal", entered)
    resumed = plan(policy, calendar, "on_site", "normal", back, consumed=used)
    assert unpaused is not None and resumed is not None
    paused = calendar.business_time_between(left, back)  # Monday 13:00-18:00: 5 h
    for before, after in zip(unpaused.levels, resumed.levels, strict=True):
        assert calendar.add_business_time(before.at, paused) == after.at


def test_levels_reached_before_a_pause_are_marked_passed(
    policy: SlaPolicy, calendar: BusinessCalendar
) -> None:
    # 13 h of 24 h used: yellow (12 h) was reached before the pause
    due = plan(policy, calendar, "on_site", "normal", sh(2026, 11, 24, 9), consumed=13 * H)
    assert due is not None
    assert [(level.name, level.passed) for level in due.levels] == [
        ("yellow", True),
        ("orange", False),
        ("red", False),
    ]
    assert due.levels[0].at == sh(2026, 11, 24, 9)
    assert due.deadline == sh(2026, 11, 25, 12)  # 11 h more: Tue 8 h + Wed 09:00-12:00


def test_no_budget_means_no_clock(policy: SlaPolicy, calendar: BusinessCalendar) -> None:
    assert plan(policy, calendar, "manual_dispatch", "normal", sh(2026, 11, 23, 9)) is None
    assert plan(policy, calendar, "on_site", "whenever", sh(2026, 11, 23, 9)) is None


def test_odd_shares_are_exact_and_rounded_up_to_the_second(calendar: BusinessCalendar) -> None:
    odd = SlaPolicy.model_validate(
        {
            "calendar": "default",
            "targets": {"check": {"normal": "1h"}},
            "levels": [{"name": "early", "at": "33.3%", "notify": ["assignee"], "channels": ["sms"]}],
        }
    )
    assert level_offset(H, Decimal("33.3")) == timedelta(seconds=1198, microseconds=800000)
    due = plan(odd, calendar, "check", "normal", sh(2026, 11, 23, 9))
    assert instants(due) == {"early": sh(2026, 11, 23, 9, 19, 59)}


def test_negative_consumed_time_is_refused(policy: SlaPolicy, calendar: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="negative"):
        plan(policy, calendar, "on_site", "normal", sh(2026, 11, 23, 9), consumed=-M)


# --------------------------------------------------------------------------- properties

TIMED = [
    (node, priority)
    for node, budgets in {
        "dispatching": ("normal", "urgent"),
        "on_site": ("normal", "urgent"),
        "customer_confirm": ("normal", "urgent"),
    }.items()
    for priority in budgets
]


@settings(max_examples=150, deadline=None)
@given(
    minutes=st.integers(min_value=0, max_value=60 * 24 * 400),
    timed=st.sampled_from(TIMED),
    used_share=st.integers(min_value=0, max_value=100),
)
def test_levels_are_ordered_inside_open_hours_and_exact(
    policy: SlaPolicy, calendar: BusinessCalendar, minutes: int, timed: tuple[str, str], used_share: int
) -> None:
    node, priority = timed
    entered = sh(2026, 1, 1) + timedelta(minutes=minutes, seconds=minutes % 61)
    budget = policy.budget(node, priority)
    assert budget is not None
    consumed = budget * used_share // 100
    due = plan(policy, calendar, node, priority, entered, consumed)
    assert due is not None
    times = [level.at for level in due.levels]
    assert times == sorted(times)
    assert due.deadline == times[-1]  # red is at 100%
    for level in due.levels:
        assert level.passed == (consumed > timedelta(0) and level.offset <= consumed)
        if level.passed:
            continue  # reached before the pause: not scheduled again
        # due while open, or exactly at a closing instant (the budget ran out at closing time)
        assert calendar.is_open(level.at) or calendar.is_open(level.at - US)
        assert calendar.business_time_between(entered, level.at) == level.offset - consumed
        assert level.at.microsecond == 0


def test_berlin_levels_keep_wall_clock_hours_across_the_autumn_switch() -> None:
    # bright-clean: Monday to Friday 08:00-18:00, Saturday 09:00-13:00, Europe/Berlin; summer time
    # ends Sunday 2026-10-25. Review, urgent: 4 h; warning at 75 % (3 h), overdue at 100 %.
    bright: TenantConfig = load_tenant_file(str(EXAMPLE.with_name("bright-clean.yaml")))
    berlin = ZoneInfo("Europe/Berlin")
    calendar = BusinessCalendar.from_config(bright.calendars["default"])
    policy = bright.sla_policies["cleaning-standard"]
    entered = datetime(2026, 10, 24, 12, tzinfo=berlin)  # Saturday 12:00 CEST (+02:00)
    due = plan(policy, calendar, "review", "urgent", entered)
    # Saturday 12:00-13:00 (1 h), Sunday closed, Monday 08:00 + 2 h = 10:00 CET (+01:00), + 3 h = 11:00
    assert instants(due) == {
        "warning": datetime(2026, 10, 26, 10, tzinfo=berlin),
        "overdue": datetime(2026, 10, 26, 11, tzinfo=berlin),
    }
    assert due is not None and due.deadline.utcoffset() == timedelta(hours=1)
    assert due.entered_at.utcoffset() == timedelta(hours=2)
