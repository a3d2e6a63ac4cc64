"""Business-time calendars: the clock SLA budgets are counted on.

A `BusinessCalendar` knows, for every local date of its time zone, the open intervals
of that date, and answers four questions exactly (to the microsecond):

- `add_business_time(start, budget)`: when has `budget` of business time elapsed after `start`?
- `business_time_between(a, b)`: how much business time lies between two instants?
- `is_open(at)` and `next_open(at)`.

Which hours a date has, first rule that applies:

1. a date in `days_off` is closed;
2. a date in `workdays` (调休) has the Monday-to-Friday hours: those of the first day
   Monday..Friday that has any;
3. a public holiday of `holidays` (`CN`, or country-subdivision such as `DE-BE`) is closed;
4. otherwise the hours of its weekday (`working_hours`; a later key overrides an earlier
   one for the same day, see `Calendar.opening_minutes`).

Hours are wall-clock times of the calendar's time zone, so the daylight-saving switch is
respected: 09:00-17:00 is 8 hours on every day, and 00:00-24:00 is 23 hours on the spring
switch day and 25 hours on the autumn one. An opening or closing time that falls in the
skipped hour counts from the switch itself; one that falls in the repeated hour means its
first occurrence.

Intervals are half-open, `[open, close)`: at the closing instant the calendar is closed,
but `add_business_time` may end exactly there (the budget ran out at closing time).

Pure logic: no I/O. The holiday tables are built lazily, one year at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from shared.tenant.models import WEEKDAYS, Calendar

__all__ = ["BusinessCalendar", "Interval"]

Interval = tuple[datetime, datetime]
"""`[open, close)` in UTC."""

_DAY = timedelta(days=1)
_ZERO = timedelta(0)
_MAX_CLOSED_DAYS = 3660
"""A calendar closed this many days in a row (ten years) is taken as never open."""
_CACHE_LIMIT = 4096


class BusinessCalendar:
    """Open hours in one time zone, with holidays, extra days off and extra workdays."""

    def __init__(
        self,
        timezone: str,
        week: Mapping[int, Sequence[tuple[int, int]]],
        *,
        holidays: str | None = None,
        days_off: Iterable[date] = (),
        workdays: Iterable[date] = (),
    ) -> None:
        """`week`: weekday (0 = Monday) → open ranges in minutes since local midnight (end ≤ 1440)."""
        self.tz = ZoneInfo(timezone)
        self._week: dict[int, tuple[tuple[int, int], ...]] = {
            day: _checked_spans(week.get(day, ()), WEEKDAYS[day]) for day in range(7)
        }
        self._workday_spans = next((self._week[day] for day in range(5) if self._week[day]), ())
        self._holiday_country, _, self._holiday_subdivision = (holidays or "").partition("-")
        self._days_off = frozenset(days_off)
        self._workdays = frozenset(workdays)
        self._holidays_by_year: dict[int, frozenset[date]] = {}
        self._intervals: dict[date, tuple[Interval, ...]] = {}
        self._ever_open = any(self._week.values())  # workdays borrow weekday hours, so they add none

    @classmethod
    def from_config(cls, cal: Calendar) -> BusinessCalendar:
        """The calendar of a tenant file's `calendars.<name>` entry."""
        return cls(
            cal.timezone,
            cal.opening_minutes(),
            holidays=cal.holidays,
            days_off=cal.days_off,
            workdays=cal.workdays,
        )

    # ----------------------------------------------------------------- questions

    def add_business_time(self, start: datetime, budget: timedelta) -> datetime:
        """The instant at which `budget` of business time has elapsed after `start`.

        Counting begins at `start` if the calendar is open then, else at the next opening.
        The answer is the earliest such instant, so it may be a closing time; a zero budget
        gives `start` back. The result is in the calendar's time zone.
        """
        now = _utc(start, "start")
        if budget < _ZERO:
            raise ValueError(f"budget {budget} is negative; give a duration of 0 or more")
        if budget == _ZERO:
            return now.astimezone(self.tz)
        remaining = budget
        for intervals in self._days_from(now):
            for opens, closes in intervals:
                if closes <= now:
                    continue
                begin = max(opens, now)
                available = closes - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(self.tz)
                remaining -= available
        raise AssertionError("unreachable: _days_from ends only by raising")  # pragma: no cover

    def business_days_budget(self, start: datetime, days: int) -> timedelta:
        """Business time from `start` to the same time of day `days` working days later.

        The clock starts at `start` or the next opening. The end is that local time on the
        `days`-th working day after the starting day, moved into that day's open hours (to its
        opening when earlier, its closing when later). A Monday 10:30 ticket with `2bd` on
        Mon-Fri 09:00-18:00 is due Wednesday 10:30; a Monday 08:01 one starts at 09:00 and is due at
        the close of Tuesday (18:00, the same business instant as Wednesday 09:00: deadlines are the
        earliest instant the business time runs out).
        """
        if days < 1:
            raise ValueError(f"{days} business days: give 1 or more")
        begin = self.next_open(start)
        local = begin.astimezone(self.tz)
        day, found = local.date(), 0
        for _ in range(days * 7 + 400):
            day += _DAY
            if self.intervals_on(day):
                found += 1
                if found == days:
                    break
        else:  # pragma: no cover - a calendar with no working day fails in next_open first
            raise ValueError("the calendar has no working days")
        intervals = self.intervals_on(day)
        wanted = self._instant(day, local.hour * 60 + local.minute) + timedelta(
            seconds=local.second, microseconds=local.microsecond
        )
        end = min(max(wanted, intervals[0][0]), intervals[-1][1])
        return self.business_time_between(begin, end)

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Business time from `a` to `b`; negative when `b` is before `a`."""
        first, last = _utc(a, "a"), _utc(b, "b")
        if last < first:
            return -self.business_time_between(b, a)
        total = _ZERO
        day = self._local_date(first)
        end_day = self._local_date(last)
        while day <= end_day:
            for opens, closes in self.intervals_on(day):
                overlap = min(closes, last) - max(opens, first)
                if overlap > _ZERO:
                    total += overlap
            day += _DAY
        return total

    def is_open(self, at: datetime) -> bool:
        """Whether `at` lies inside open hours (an opening instant is open, a closing one is not)."""
        now = _utc(at, "at")
        return any(opens <= now < closes for opens, closes in self.intervals_on(self._local_date(now)))

    def next_open(self, at: datetime) -> datetime:
        """`at` itself if the calendar is open then, else the next opening (in the calendar's time zone)."""
        now = _utc(at, "at")
        for intervals in self._days_from(now):
            for opens, closes in intervals:
                if closes > now:
                    return max(opens, now).astimezone(self.tz)
        raise AssertionError("unreachable: _days_from ends only by raising")  # pragma: no cover

    def intervals_on(self, day: date) -> tuple[Interval, ...]:
        """The open intervals `[open, close)` of a local date, in UTC, earliest first."""
        cached = self._intervals.get(day)
        if cached is None:
            if len(self._intervals) >= _CACHE_LIMIT:
                self._intervals.clear()
            cached = tuple(
                (opens, closes)
                for start, end in self._spans_on(day)
                if (opens := self._instant(day, start)) < (closes := self._instant(day, end))
            )
            self._intervals[day] = cached
        return cached

    def is_holiday(self, day: date) -> bool:
        """Whether `day` is a public holiday of the calendar's `holidays` country (not `days_off`)."""
        if not self._holiday_country:
            return False
        year = self._holidays_by_year.get(day.year)
        if year is None:
            year = self._holidays_by_year[day.year] = self._load_holidays(day.year)
        return day in year

    # ----------------------------------------------------------------- internals

    def _spans_on(self, day: date) -> tuple[tuple[int, int], ...]:
        if day in self._days_off:
            return ()
        if day in self._workdays:
            return self._workday_spans
        if self.is_holiday(day):
            return ()
        return self._week[day.weekday()]

    def _load_holidays(self, year: int) -> frozenset[date]:
        import holidays  # imported here: its tables are only needed once a calendar is asked about a day

        table = holidays.country_holidays(
            self._holiday_country, subdiv=self._holiday_subdivision or None, years=year
        )
        return frozenset(table.keys())

    def _days_from(self, now: datetime) -> Iterable[tuple[Interval, ...]]:
        """The intervals of each local date from that of `now` on; raises if the calendar never opens."""
        if not self._ever_open:
            raise ValueError("the calendar has no open hours at all, so no business time ever passes")
        day = self._local_date(now)
        closed_in_a_row = 0
        while True:
            intervals = self.intervals_on(day)
            closed_in_a_row = 0 if intervals else closed_in_a_row + 1
            if closed_in_a_row > _MAX_CLOSED_DAYS:
                raise ValueError(
                    f"the calendar is closed for ten years after {day - _MAX_CLOSED_DAYS * _DAY}"
                )
            yield intervals
            day += _DAY

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()

    def _instant(self, day: date, minute: int) -> datetime:
        """The UTC instant of a local wall-clock time (`minute` 1440 is the next midnight)."""
        if minute == 24 * 60:
            day, minute = day + _DAY, 0
        wall = datetime(day.year, day.month, day.day, minute // 60, minute % 60)
        instant = wall.replace(tzinfo=self.tz).astimezone(UTC)  # fold=0: first occurrence if repeated
        if instant.astimezone(self.tz).replace(tzinfo=None) == wall:
            return instant
        # The wall time was skipped (clocks jumped forward): the first instant at or after it is the
        # switch. fold=1 reads the wall time with the later offset, which lands before the switch.
        low = int(wall.replace(tzinfo=self.tz, fold=1).timestamp())
        high = int(instant.timestamp())
        while high - low > 1:
            middle = (low + high) // 2
            if datetime.fromtimestamp(middle, self.tz).replace(tzinfo=None) >= wall:
                high = middle
            else:
                low = middle
        return datetime.fromtimestamp(high, UTC)


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} ({value.isoformat()}) has no time zone; give an aware datetime")
    return value.astimezone(UTC)


def _checked_spans(spans: Iterable[tuple[int, int]], day: str) -> tuple[tuple[int, int], ...]:
    ordered = tuple(sorted(spans))
    for start, end in ordered:
        if not 0 <= start < end <= 24 * 60:
            raise ValueError(f"open range {start}-{end} of {day} must lie within 0-1440 minutes, start first")
    for (_, end), (start, _) in pairwise(ordered):
        if start < end:
            raise ValueError(f"the open ranges of {day} overlap")
    return ordered
