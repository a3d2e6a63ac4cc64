"""The twin's clock: real time from a chosen start, or manual time moved by /_local/clock/advance."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Literal

ClockMode = Literal["realtime", "manual"]


class TwinClock:
    def __init__(self, mode: ClockMode = "realtime", start: datetime | None = None) -> None:
        self.mode = mode
        self._start = (start or datetime.now(UTC)).astimezone(UTC)
        self._t0 = time.monotonic()
        self._advanced = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            elapsed = (
                timedelta(seconds=time.monotonic() - self._t0) if self.mode == "realtime" else timedelta()
            )
            return self._start + elapsed + self._advanced

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._advanced += timedelta(seconds=seconds)
        return self.now()
