"""Business-time calendars: hand-computed SLA clocks in Asia/Shanghai, DST in Europe/Berlin, properties.

The example calendar (`examples/tenants/acme-home.yaml`, `calendars.default`): Monday to Friday
09:00-12:00 and 13:00-18:00 (8 h), Saturday 09:00-12:00 (3 h), Sunday closed; CN public holidays;
2026-12-31 off; Sunday 2026-10-11 a workday (调休) with the Monday-to-Friday hours.
In 2026, 1 November is a Sunday, so 2 November is a Monday.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import shared.tenant
from shared.calendar import BusinessCalendar
from shared.tenant.models import Calendar, TenantConfig

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tenants" / "acme-home.yaml"
SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)
M = timedelta(minutes=1)
S = timedelta(seconds=1)
US = timedelta(microseconds=1)


def load_example() -> TenantConfig:
    """The example tenant, through `shared.tenant.load_tenant_file` once that exists."""
    loader = getattr(shared.tenant, "load_tenant_file", None)
    if loader is not None:
        config: TenantConfig = loader(str(EXAMPLE))
        return config
    return TenantConfig.model_validate(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))


def sh(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    """A wall-clock time in Asia/Shanghai: `sh(2026, 11, 2, 9)`."""
    return datetime(year, month, day, hour, minute, second, us, tzinfo=SHANGHAI)


def be(year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, fold: int = 0) -> datetime:
    """A wall-clock time in Europe/Berlin; `fold=1` is the second pass of a repeated hour."""
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN, fold=fold)


def make_calendar(**overrides: Any) -> BusinessCalendar:
    """A calendar from tenant-file data: the example's `calendars.default` with `overrides`."""
    data: dict[str, Any] = {
        "timezone": "Asia/Shanghai",
        "working_hours": {"mon-fri": ["09:00-12:00", "13:00-18:00"], "sat": ["09:00-12:00"]},
        "holidays": "CN",
        "days_off": ["2026-12-31"],
        "workdays": ["2026-10-11"],
    }
    data.update(overrides)
    return BusinessCalendar.from_config(Calendar.model_validate(data))


@pytest.fixture(scope="module")
def cal() -> BusinessCalendar:
    return BusinessCalendar.from_config(load_example().calendars["default"])


# --------------------------------------------------------------------------- add_business_time, Shanghai


@pytest.mark.parametrize(
    ("start", "budget", "expected"),
    [
        # Friday 18:00 closes after 1 h; Saturday morning has the other hour.
        pytest.param(sh(2026, 11, 6, 17), 2 * H, sh(2026, 11, 7, 10), id="fri-17+2h-sat-morning"),
        # 1 h Friday, 3 h Saturday, 1 h Monday.
        pytest.param(sh(2026, 11, 6, 17), 5 * H, sh(2026, 11, 9, 10), id="fri-17+5h-monday"),
        pytest.param(sh(2026, 11, 7, 11), 2 * H, sh(2026, 11, 9, 10), id="sat-11+2h-sunday-closed"),
        pytest.param(sh(2026, 11, 2, 11), 2 * H, sh(2026, 11, 2, 14), id="lunch-skipped"),
        pytest.param(sh(2026, 11, 2, 11, 30), 30 * M, sh(2026, 11, 2, 12), id="ends-at-lunch-closing"),
        pytest.param(sh(2026, 11, 2, 12, 30), 1 * H, sh(2026, 11, 2, 14), id="starts-in-lunch"),
        pytest.param(sh(2026, 11, 2, 7), 1 * H, sh(2026, 11, 2, 10), id="starts-before-opening"),
        pytest.param(sh(2026, 11, 2, 20), 1 * H, sh(2026, 11, 3, 10), id="starts-after-closing"),
        pytest.param(sh(2026, 11, 2, 18), 1 * H, sh(2026, 11, 3, 10), id="starts-at-closing"),
        pytest.param(sh(2026, 11, 8, 15), 1 * H, sh(2026, 11, 9, 10), id="starts-on-sunday"),
        # 1-3 Oct holidays (3 Oct is a Saturday), 4 Oct Sunday, 5-7 Oct holidays.
        pytest.param(sh(2026, 9, 30, 17), 2 * H, sh(2026, 10, 8, 10), id="national-day-skipped"),
        pytest.param(sh(2026, 9, 24, 17), 2 * H, sh(2026, 9, 26, 10), id="mid-autumn-friday-skipped"),
        # Friday 1 h, Saturday 10 Oct 3 h, then the workday Sunday 11 Oct with weekday hours.
        pytest.param(sh(2026, 10, 9, 17), 5 * H, sh(2026, 10, 11, 10), id="workday-sunday-counted"),
        pytest.param(sh(2026, 10, 9, 17), 12 * H, sh(2026, 10, 11, 18), id="workday-sunday-full"),
        pytest.param(sh(2026, 10, 9, 17), 13 * H, sh(2026, 10, 12, 10), id="after-workday-sunday"),
        # 31 Dec day off, 1 Jan 2027 New Year's Day, 2 Jan a Saturday: the 2027 holidays load on demand.
        pytest.param(sh(2026, 12, 30, 17), 2 * H, sh(2027, 1, 2, 10), id="day-off-and-new-year"),
        # A week is 43 h; two weeks end at the closing instant of the second Saturday.
        pytest.param(sh(2026, 11, 2, 9), 86 * H, sh(2026, 11, 14, 12), id="two-weeks-end-at-closing"),
        pytest.param(sh(2026, 11, 2, 9), 86 * H + S, sh(2026, 11, 16, 9, 0, 1), id="two-weeks-and-a-second"),
        pytest.param(sh(2026, 11, 2, 9), H + 2 * M + 3 * S, sh(2026, 11, 2, 10, 2, 3), id="seconds"),
        pytest.param(sh(2026, 11, 2, 11, 59, 59), 2 * S, sh(2026, 11, 2, 13, 0, 1), id="second-over-lunch"),
    ],
)
def test_add_business_time_on_the_example_calendar(
    cal: BusinessCalendar, start: datetime, budget: timedelta, expected: datetime
) -> None:
    assert cal.add_business_time(start, budget) == expected


def test_friday_evening_plus_two_hours_is_monday_on_a_weekday_calendar() -> None:
    # Given a calendar without Saturday hours
    weekdays_only = make_calendar(working_hours={"mon-fri": ["09:00-12:00", "13:00-18:00"]})
    # Then Friday 17:00 + 2 h is Monday 10:00
    assert weekdays_only.add_business_time(sh(2026, 11, 6, 17), 2 * H) == sh(2026, 11, 9, 10)


def test_result_is_in_the_calendar_time_zone_whatever_the_input_zone(cal: BusinessCalendar) -> None:
    start = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    result = cal.add_business_time(start, 90 * M)
    assert result == sh(2026, 11, 2, 10, 30)
    assert result.tzinfo == SHANGHAI
    assert result.isoformat() == "2026-11-02T10:30:00+08:00"


def test_zero_budget_gives_the_start_back_even_when_closed(cal: BusinessCalendar) -> None:
    assert cal.add_business_time(sh(2026, 11, 8, 15), timedelta(0)) == sh(2026, 11, 8, 15)


def test_microseconds_are_kept_exactly(cal: BusinessCalendar) -> None:
    start = sh(2026, 11, 2, 11, 59, 59, 999_999)
    assert cal.add_business_time(start, 2 * US) == sh(2026, 11, 2, 13, 0, 0, 1)


def test_budgets_of_weeks_are_fast(cal: BusinessCalendar) -> None:
    # Given a budget of about a year of business time (2000 h ≈ 46 weeks of 43 h)
    start = sh(2026, 1, 5, 9)
    began = time.perf_counter()
    deadline = cal.add_business_time(start, 2000 * H)
    elapsed = time.perf_counter() - began
    # Then the walk goes a day at a time, not a minute at a time
    assert elapsed < 0.5
    assert cal.business_time_between(start, deadline) == 2000 * H
    assert deadline > start + 46 * timedelta(weeks=1)


# --------------------------------------------------------------------------- business_time_between


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        pytest.param(sh(2026, 11, 2, 9), sh(2026, 11, 7, 12), 43 * H, id="whole-week"),
        pytest.param(sh(2026, 11, 2), sh(2026, 11, 3), 8 * H, id="one-weekday"),
        pytest.param(sh(2026, 11, 7), sh(2026, 11, 9), 3 * H, id="weekend"),
        pytest.param(sh(2026, 11, 6, 17), sh(2026, 11, 9, 10), 5 * H, id="over-weekend"),
        pytest.param(sh(2026, 11, 2, 11, 30), sh(2026, 11, 2, 13, 30), 1 * H, id="over-lunch"),
        pytest.param(sh(2026, 11, 2, 12, 10), sh(2026, 11, 2, 12, 50), timedelta(0), id="inside-lunch"),
        pytest.param(sh(2026, 11, 2, 9), sh(2026, 11, 2, 9), timedelta(0), id="empty"),
        # 28-30 Sep 24 h; 1-7 Oct closed; 8-9 Oct 16 h; Sat 10 Oct 3 h; workday Sun 11 Oct 8 h.
        pytest.param(sh(2026, 9, 28), sh(2026, 10, 12), 51 * H, id="national-day-fortnight"),
        # 28-30 Dec 24 h; 31 Dec off; 1 Jan holiday; Sat 2 Jan 3 h; Sun 3 Jan closed.
        pytest.param(sh(2026, 12, 28), sh(2027, 1, 4), 27 * H, id="over-new-year"),
        pytest.param(sh(2026, 11, 2, 9, 0, 0), sh(2026, 11, 2, 9, 0, 7), 7 * S, id="seconds"),
    ],
)
def test_business_time_between(cal: BusinessCalendar, a: datetime, b: datetime, expected: timedelta) -> None:
    assert cal.business_time_between(a, b) == expected


def test_business_time_between_is_negative_backwards(cal: BusinessCalendar) -> None:
    assert cal.business_time_between(sh(2026, 11, 9, 10), sh(2026, 11, 6, 17)) == -5 * H


def test_business_time_between_accepts_mixed_time_zones(cal: BusinessCalendar) -> None:
    a = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 09:00 Shanghai
    b = datetime(2026, 11, 2, 7, 0, tzinfo=BERLIN)  # 14:00 Shanghai (CET = UTC+1)
    assert cal.business_time_between(a, b) == 4 * H


# --------------------------------------------------------------------------- is_open, next_open


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (sh(2026, 11, 2, 9), True),  # the opening instant is open
        (sh(2026, 11, 2, 8, 59, 59), False),
        (sh(2026, 11, 2, 11, 59, 59), True),
        (sh(2026, 11, 2, 12), False),  # the closing instant is closed
        (sh(2026, 11, 2, 13), True),
        (sh(2026, 11, 2, 18), False),
        (sh(2026, 11, 7, 10), True),  # Saturday morning
        (sh(2026, 11, 7, 14), False),
        (sh(2026, 11, 8, 10), False),  # Sunday
        (sh(2026, 10, 1, 10), False),  # National Day
        (sh(2026, 10, 11, 10), True),  # workday Sunday
        (sh(2026, 10, 11, 15), True),  # ... with the afternoon of weekdays
        (sh(2026, 10, 11, 12, 30), False),  # ... and their lunch break
        (sh(2026, 10, 18, 10), False),  # a plain Sunday
        (sh(2026, 12, 31, 10), False),  # day off
        (datetime(2026, 11, 2, 1, 30, tzinfo=UTC), True),  # 09:30 Shanghai
    ],
)
def test_is_open(cal: BusinessCalendar, at: datetime, expected: bool) -> None:
    assert cal.is_open(at) is expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (sh(2026, 11, 2, 10, 15, 30), sh(2026, 11, 2, 10, 15, 30)),  # already open
        (sh(2026, 11, 2, 12, 15), sh(2026, 11, 2, 13)),
        (sh(2026, 11, 2, 12), sh(2026, 11, 2, 13)),
        (sh(2026, 11, 7, 12), sh(2026, 11, 9, 9)),
        (sh(2026, 9, 30, 18), sh(2026, 10, 8, 9)),
        (sh(2026, 12, 30, 18), sh(2027, 1, 2, 9)),
    ],
)
def test_next_open(cal: BusinessCalendar, at: datetime, expected: datetime) -> None:
    result = cal.next_open(at)
    assert result == expected
    assert result.tzinfo == SHANGHAI


# --------------------------------------------------------------------------- configuration


def test_a_later_working_hours_key_overrides_an_earlier_one() -> None:
    # Given hours where "wed" follows "mon-fri" (the file's validator refuses this, the calendar
    # itself follows `Calendar.opening_minutes`: the later key wins)
    config = Calendar.model_construct(
        timezone="Asia/Shanghai",
        working_hours={"mon-fri": ["09:00-18:00"], "wed": ["10:00-11:00"]},
        holidays=None,
        days_off=[],
        workdays=[],
    )
    cal = BusinessCalendar.from_config(config)
    # Then Wednesday 4 Nov 2026 has only its own hour, Tuesday keeps the range's hours
    assert cal.business_time_between(sh(2026, 11, 4), sh(2026, 11, 5)) == 1 * H
    assert cal.business_time_between(sh(2026, 11, 3), sh(2026, 11, 4)) == 9 * H


def test_day_lists_are_read_from_the_file_format() -> None:
    cal = make_calendar(
        working_hours={"mon,wed-fri": ["09:00-17:00"], "sun": ["10:00-12:00"]},
        holidays=None,
        days_off=[],
        workdays=[],
    )
    assert cal.business_time_between(sh(2026, 11, 2), sh(2026, 11, 9)) == 4 * 8 * H + 2 * H


def test_workdays_use_the_first_weekday_hours_that_exist() -> None:
    cal = make_calendar(
        working_hours={"tue-fri": ["08:00-16:00"], "sat": ["09:00-12:00"]},
        holidays=None,
        days_off=[],
        workdays=["2026-11-08"],
    )
    # Sunday 8 Nov has Tuesday's 08:00-16:00 (Monday has no hours)
    assert cal.next_open(sh(2026, 11, 8)) == sh(2026, 11, 8, 8)
    assert not cal.is_open(sh(2026, 11, 8, 16))
    assert cal.business_time_between(sh(2026, 11, 8), sh(2026, 11, 9)) == 8 * H


def test_a_workday_wins_over_a_public_holiday() -> None:
    cal = make_calendar(workdays=["2026-10-05"])
    assert cal.is_open(sh(2026, 10, 5, 10))
    assert not cal.is_open(sh(2026, 10, 6, 10))


def test_days_off_close_an_ordinary_weekday() -> None:
    cal = make_calendar(days_off=["2026-11-04"])
    assert not cal.is_open(sh(2026, 11, 4, 10))
    assert cal.add_business_time(sh(2026, 11, 3, 17), 2 * H) == sh(2026, 11, 5, 10)


def test_without_holidays_national_day_is_a_working_day() -> None:
    cal = make_calendar(holidays=None)
    assert cal.is_open(sh(2026, 10, 1, 10))
    assert not cal.is_holiday(date(2026, 10, 1))


def test_holiday_subdivisions_are_honoured() -> None:
    # International Women's Day is a public holiday in Berlin (DE-BE), not in all of Germany;
    # 8 March 2027 is a Monday.
    weekday_hours = {"mon-fri": ["09:00-17:00"]}
    berlin = make_calendar(timezone="Europe/Berlin", working_hours=weekday_hours, holidays="DE-BE")
    germany = make_calendar(timezone="Europe/Berlin", working_hours=weekday_hours, holidays="DE")
    monday = be(2027, 3, 8, 10)
    assert not berlin.is_open(monday)
    assert germany.is_open(monday)


def test_holidays_are_loaded_lazily_one_year_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import holidays

    calls: list[object] = []
    real = holidays.country_holidays

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("years"))
        return real(*args, **kwargs)

    monkeypatch.setattr(holidays, "country_holidays", counting)
    cal = make_calendar()
    assert calls == []  # nothing at construction
    cal.business_time_between(sh(2026, 9, 28), sh(2026, 10, 12))
    cal.business_time_between(sh(2026, 12, 28), sh(2027, 1, 4))
    cal.is_open(sh(2026, 5, 1, 10))
    assert calls == [2026, 2027]


@pytest.mark.parametrize("call", ["add", "between_first", "between_second", "is_open", "next_open"])
def test_naive_datetimes_are_refused(cal: BusinessCalendar, call: str) -> None:
    naive, aware = datetime(2026, 11, 2, 10), sh(2026, 11, 2, 10)
    with pytest.raises(ValueError, match="no time zone"):
        if call == "add":
            cal.add_business_time(naive, H)
        elif call == "between_first":
            cal.business_time_between(naive, aware)
        elif call == "between_second":
            cal.business_time_between(aware, naive)
        elif call == "is_open":
            cal.is_open(naive)
        else:
            cal.next_open(naive)


def test_a_negative_budget_is_refused(cal: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="negative"):
        cal.add_business_time(sh(2026, 11, 2, 10), -H)


def test_a_calendar_that_never_opens_says_so() -> None:
    never = BusinessCalendar("Asia/Shanghai", {})
    with pytest.raises(ValueError, match="no open hours"):
        never.add_business_time(sh(2026, 11, 2, 10), H)
    with pytest.raises(ValueError, match="no open hours"):
        never.next_open(sh(2026, 11, 2, 10))
    assert never.business_time_between(sh(2026, 11, 2), sh(2026, 12, 2)) == timedelta(0)
    assert not never.is_open(sh(2026, 11, 2, 10))


@pytest.mark.parametrize("spans", [[(600, 540)], [(0, 1441)], [(540, 720), (700, 800)]])
def test_bad_minute_ranges_are_refused(spans: list[tuple[int, int]]) -> None:
    with pytest.raises(ValueError, match="mon"):
        BusinessCalendar("Asia/Shanghai", {0: spans})


# --------------------------------------------------------------------------- daylight saving, Berlin
# 2026: clocks go forward on Sunday 29 March (02:00 CET → 03:00 CEST) and back on Sunday
# 25 October (03:00 CEST → 02:00 CET).


@pytest.fixture(scope="module")
def office() -> BusinessCalendar:
    """Europe/Berlin, Monday to Friday 09:00-17:00, no holidays."""
    return BusinessCalendar("Europe/Berlin", {day: [(9 * 60, 17 * 60)] for day in range(5)})


@pytest.fixture(scope="module")
def sundays() -> BusinessCalendar:
    """Europe/Berlin, open all of Sunday: the switch days are Sundays."""
    return BusinessCalendar("Europe/Berlin", {6: [(0, 24 * 60)]})


def test_office_hours_keep_their_wall_clock_over_the_spring_switch(office: BusinessCalendar) -> None:
    result = office.add_business_time(be(2026, 3, 27, 16), 3 * H)
    assert result == be(2026, 3, 30, 11)
    assert result.utcoffset() == 2 * H
    assert result.astimezone(UTC) == datetime(2026, 3, 30, 9, tzinfo=UTC)
    assert office.business_time_between(be(2026, 3, 27, 9), be(2026, 3, 30, 17)) == 16 * H


def test_office_hours_keep_their_wall_clock_over_the_autumn_switch(office: BusinessCalendar) -> None:
    result = office.add_business_time(be(2026, 10, 23, 16), 3 * H)
    assert result == be(2026, 10, 26, 11)
    assert result.utcoffset() == 1 * H
    assert office.business_time_between(be(2026, 10, 23, 9), be(2026, 10, 26, 17)) == 16 * H


def test_the_spring_switch_day_has_23_hours(sundays: BusinessCalendar) -> None:
    assert sundays.business_time_between(be(2026, 3, 29), be(2026, 3, 30)) == 23 * H
    assert sundays.business_time_between(be(2026, 3, 22), be(2026, 3, 23)) == 24 * H
    assert sundays.add_business_time(be(2026, 3, 29), 23 * H) == be(2026, 3, 30)


def test_the_autumn_switch_day_has_25_hours(sundays: BusinessCalendar) -> None:
    assert sundays.business_time_between(be(2026, 10, 25), be(2026, 10, 26)) == 25 * H
    assert sundays.add_business_time(be(2026, 10, 25), 25 * H) == be(2026, 10, 26)


def test_counting_over_the_skipped_hour(sundays: BusinessCalendar) -> None:
    # 00:00-02:00 CET is 2 h, then the clock reads 03:00 CEST; 3 more hours end at 06:00.
    result = sundays.add_business_time(be(2026, 3, 28, 12), 5 * H)
    assert result == be(2026, 3, 29, 6)
    assert result.utcoffset() == 2 * H


def test_counting_through_the_repeated_hour(sundays: BusinessCalendar) -> None:
    first_pass = sundays.add_business_time(be(2026, 10, 25), 2 * H + 30 * M)
    second_pass = sundays.add_business_time(be(2026, 10, 25), 3 * H + 30 * M)
    assert (first_pass.hour, first_pass.minute, first_pass.utcoffset()) == (2, 30, 2 * H)
    assert (second_pass.hour, second_pass.minute, second_pass.utcoffset()) == (2, 30, 1 * H)
    assert second_pass.astimezone(UTC) - first_pass.astimezone(UTC) == H
    assert sundays.add_business_time(be(2026, 10, 25), 4 * H) == be(2026, 10, 25, 3)


def test_hours_spanning_the_switch_are_real_hours() -> None:
    night = BusinessCalendar("Europe/Berlin", {6: [(60, 4 * 60)]})  # Sunday 01:00-04:00
    assert night.business_time_between(be(2026, 3, 29), be(2026, 3, 30)) == 2 * H
    assert night.business_time_between(be(2026, 10, 25), be(2026, 10, 26)) == 4 * H
    assert night.business_time_between(be(2026, 11, 1), be(2026, 11, 2)) == 3 * H


def test_an_opening_in_the_skipped_hour_opens_at_the_switch() -> None:
    late = BusinessCalendar("Europe/Berlin", {6: [(150, 300)]})  # Sunday 02:30-05:00
    opening = late.next_open(be(2026, 3, 29))
    assert opening == be(2026, 3, 29, 3)
    assert opening.astimezone(UTC) == datetime(2026, 3, 29, 1, tzinfo=UTC)
    assert late.business_time_between(be(2026, 3, 29), be(2026, 3, 30)) == 2 * H
    assert late.business_time_between(be(2026, 3, 22), be(2026, 3, 23)) == 2 * H + 30 * M


def test_is_open_during_the_repeated_hour(office: BusinessCalendar, sundays: BusinessCalendar) -> None:
    assert sundays.is_open(be(2026, 10, 25, 2, 30, fold=0))
    assert sundays.is_open(be(2026, 10, 25, 2, 30, fold=1))
    assert not office.is_open(be(2026, 10, 25, 2, 30, fold=1))


# --------------------------------------------------------------------------- properties

budgets = st.timedeltas(min_value=US, max_value=timedelta(hours=400))
shanghai_starts = st.datetimes(
    min_value=datetime(2025, 12, 1), max_value=datetime(2027, 12, 31), timezones=st.just(SHANGHAI)
)
# Around both 2026 switches, with wall times that exist (hypothesis may also pick the repeated hour).
berlin_starts = st.one_of(
    st.datetimes(
        datetime(2026, 3, 20), datetime(2026, 4, 5), timezones=st.just(BERLIN), allow_imaginary=False
    ),
    st.datetimes(
        datetime(2026, 10, 17), datetime(2026, 11, 2), timezones=st.just(BERLIN), allow_imaginary=False
    ),
)


def berlin_mixed() -> BusinessCalendar:
    """Europe/Berlin: weekdays with a lunch break and late evenings, all of Sunday, and Saturday night."""
    weekday = [(8 * 60, 12 * 60), (13 * 60, 22 * 60)]
    week = {day: weekday for day in range(5)}
    week[5] = [(60, 4 * 60)]
    week[6] = [(0, 24 * 60)]
    return BusinessCalendar("Europe/Berlin", week, holidays="DE-BE")


CALENDARS = {"shanghai": (make_calendar(), shanghai_starts), "berlin": (berlin_mixed(), berlin_starts)}


def utc(value: datetime) -> datetime:
    """Compare instants in UTC: Python compares datetimes of one zone by wall clock, ignoring fold."""
    return value.astimezone(UTC)


def _at_boundary_or_open(cal: BusinessCalendar, result: datetime) -> bool:
    if cal.is_open(result):
        return True
    before = utc(result) - US
    closes = {close for _, close in cal.intervals_on(before.astimezone(cal.tz).date())}
    return cal.is_open(before) and utc(result) in closes


@pytest.mark.parametrize("name", CALENDARS)
@settings(deadline=None, max_examples=150)
@given(data=st.data())
def test_between_undoes_add(name: str, data: st.DataObject) -> None:
    cal, starts = CALENDARS[name]
    start, budget = data.draw(starts), data.draw(budgets)
    assert cal.business_time_between(start, cal.add_business_time(start, budget)) == budget


@pytest.mark.parametrize("name", CALENDARS)
@settings(deadline=None, max_examples=150)
@given(data=st.data())
def test_add_is_monotonic_in_the_budget(name: str, data: st.DataObject) -> None:
    cal, starts = CALENDARS[name]
    start = data.draw(starts)
    small, large = sorted([data.draw(budgets), data.draw(budgets)])
    assert utc(start) <= utc(cal.add_business_time(start, small)) <= utc(cal.add_business_time(start, large))


@pytest.mark.parametrize("name", CALENDARS)
@settings(deadline=None, max_examples=150)
@given(data=st.data())
def test_add_ends_inside_open_hours_or_exactly_at_a_closing(name: str, data: st.DataObject) -> None:
    cal, starts = CALENDARS[name]
    result = cal.add_business_time(data.draw(starts), data.draw(budgets))
    assert _at_boundary_or_open(cal, result)


@pytest.mark.parametrize("name", CALENDARS)
@settings(deadline=None, max_examples=100)
@given(data=st.data())
def test_add_in_two_steps_equals_add_in_one(name: str, data: st.DataObject) -> None:
    cal, starts = CALENDARS[name]
    start, first, second = data.draw(starts), data.draw(budgets), data.draw(budgets)
    in_two = cal.add_business_time(cal.add_business_time(start, first), second)
    assert utc(in_two) == utc(cal.add_business_time(start, first + second))


@pytest.mark.parametrize("name", CALENDARS)
@settings(deadline=None, max_examples=100)
@given(data=st.data())
def test_between_is_additive_and_antisymmetric(name: str, data: st.DataObject) -> None:
    cal, starts = CALENDARS[name]
    # In UTC: aware datetimes of one zone compare and subtract by wall clock, ignoring `fold`
    a, b, c = sorted(utc(data.draw(starts)) for _ in range(3))
    assert cal.business_time_between(a, b) + cal.business_time_between(b, c) == cal.business_time_between(
        a, c
    )
    assert cal.business_time_between(c, a) == -cal.business_time_between(a, c)
    assert timedelta(0) <= cal.business_time_between(a, c) <= c - a


@pytest.mark.parametrize("name", CALENDARS)
@settings(deadline=None, max_examples=100)
@given(data=st.data())
def test_next_open_is_open_and_nothing_is_counted_before_it(name: str, data: st.DataObject) -> None:
    cal, starts = CALENDARS[name]
    start = data.draw(starts)
    opening = cal.next_open(start)
    assert utc(opening) >= utc(start)
    assert cal.is_open(opening)
    assert cal.business_time_between(start, opening) == timedelta(0)
    assert cal.is_open(start) == (utc(opening) == utc(start))
