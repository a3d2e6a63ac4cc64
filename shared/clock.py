"""The one source of "now" for domain code.

In AWS this is the system clock. The local twin installs its own clock (realtime or
manual) with :func:`install`, so timestamps, schedules and SLA maths follow it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """The current instant, timezone-aware UTC."""
    return _source()


def install(source: Callable[[], datetime]) -> None:
    """Replace the clock (the local twin does this); ``reset()`` restores the system clock."""
    global _source
    _source = source


def reset() -> None:
    install(lambda: datetime.now(UTC))


def iso(instant: datetime) -> str:
    """ISO 8601 in UTC with millisecond precision and a ``Z``: sorts as text."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"
