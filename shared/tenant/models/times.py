"""Times as the tenant file writes them: durations (`"30m"`), SLA budgets (`"4h"`, `"2bd"`),
times of day (`"20:00"`), opening hours (`"09:00-12:00"`) and days of the week (`"mon-fri"`)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

from shared.tenant.models.base import _show, did_you_mean

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# --------------------------------------------------------------------------- durations

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_DURATION_HELP = 'write a whole number and a unit (d, h, m, s), such as "30m", "2h", "1d" or "1h30m"'


def parse_duration(text: str) -> timedelta:
    """Read `"30m"`, `"2h"`, `"1d"`, `"1h30m"`, `"90s"` (units in the order d, h, m, s).

    Raises `ValueError` with a message that says how to write it. Zero is refused:
    every duration of the tenant file (SLA budgets, offer timeouts) must be positive.
    """
    if not isinstance(text, str):
        raise ValueError(f"{_show(text)} is not a duration; {_DURATION_HELP}")
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{text!r} is not a duration; {_DURATION_HELP}")
    days, hours, minutes, seconds = (int(part) if part else 0 for part in match.groups())
    value = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if value <= timedelta(0):
        raise ValueError(f'{text!r} is zero; a duration must be longer than that, such as "1m"')
    return value


def format_duration(value: timedelta) -> str:
    """The shortest text `parse_duration` reads back to `value` (whole seconds, > 0)."""
    total = int(value.total_seconds())
    if total <= 0 or total != value.total_seconds():
        raise ValueError(f"{value} is not a positive whole number of seconds")
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, total = divmod(total, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def _check_duration(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{_show(value)} is not a duration; {_DURATION_HELP}")
    parse_duration(value)
    return value.strip()


Duration = Annotated[str, BeforeValidator(_check_duration)]
"""A duration as written in the file (`"2h"`); `parse_duration` gives its `timedelta`."""

_BUSINESS_DAYS = re.compile(r"(\d+)bd")


def business_days(text: str) -> int | None:
    """`"2bd"` → 2 (business days: see `SlaPolicy`); None for any other duration."""
    match = _BUSINESS_DAYS.fullmatch(text.strip())
    return int(match.group(1)) if match else None


def _check_budget(value: object) -> str:
    if isinstance(value, str) and business_days(value) is not None:
        if business_days(value) == 0:
            raise ValueError(f'{value!r} is zero; a budget must be longer than that, such as "1bd"')
        return value.strip()
    try:
        return _check_duration(value)
    except ValueError as exc:
        raise ValueError(f'{exc}; or business days such as "2bd"') from None


Budget = Annotated[str, BeforeValidator(_check_budget)]
"""An SLA budget: a duration of business time (`"4h"`, `"2d"` = 48 business hours) or business days
(`"2bd"`: the same time of day two working days later)."""

# --------------------------------------------------------------------------- calendar times

_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_CLOCK_RANGE = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))")


def parse_clock_range(text: str) -> tuple[int, int]:
    """`"09:00-12:00"` → `(540, 720)`: minutes since midnight; the end may be `24:00`."""
    match = _CLOCK_RANGE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f'{_show(text)} is not a time range; write it like "09:00-12:00"')
    sh, sm, eh, em, eh24, _ = match.groups()
    start = int(sh) * 60 + int(sm)
    end = 24 * 60 if eh24 else int(eh) * 60 + int(em)
    if end <= start:
        raise ValueError(f"{text!r} ends before it starts; write the earlier time first")
    return start, end


def _check_clock(value: str) -> str:
    if not _CLOCK.fullmatch(value):
        raise ValueError(f'{value!r} is not a time of day; write it like "20:00"')
    return value


ClockTime = Annotated[str, AfterValidator(_check_clock)]


def expand_days(key: str) -> list[int]:
    """`"mon-fri"` → `[0, 1, 2, 3, 4]`; also `"sat"` and lists such as `"mon,wed-fri"` (0 = Monday)."""
    days: list[int] = []
    for part in key.split(","):
        first, _, last = part.strip().partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ValueError(
                f"{key!r} is not a day or range of days{did_you_mean(part.strip(), WEEKDAYS)}; "
                "use mon, tue, wed, thu, fri, sat, sun, a range such as mon-fri, or a list such as sat,sun"
            )
        start = WEEKDAYS.index(first)
        end = WEEKDAYS.index(last) if last else start
        if end < start:
            raise ValueError(f"{key!r} runs backwards; write the range from Monday on, such as mon-fri")
        days.extend(range(start, end + 1))
    return days
