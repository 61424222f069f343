"""Time for the run: one monotonic origin that every event is measured from, injectable for tests."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the run's origin, monotonic."""

    def wall(self) -> datetime:
        """UTC wall time, for humans reading the recording."""

    def wait_until(self, offset: float, stop: threading.Event) -> bool:
        """Block until `offset` or until `stop` is set. True if the offset was reached."""


class MonotonicClock:
    def __init__(self) -> None:
        self._origin = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self._origin

    def wall(self) -> datetime:
        return datetime.now(UTC)

    def wait_until(self, offset: float, stop: threading.Event) -> bool:
        # Event.wait is interruptible (stop is set by signal handling); one call, no polling loop.
        return not stop.wait(max(0.0, offset - self.now()))


class FakeClock:
    """A clock that jumps to every deadline at once: scheduling tests run in microseconds."""

    def __init__(self, start: datetime | None = None) -> None:
        self.offset = 0.0
        self._start = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> float:
        return self.offset

    def wall(self) -> datetime:
        from datetime import timedelta

        return self._start + timedelta(seconds=self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def wait_until(self, offset: float, stop: threading.Event) -> bool:
        if stop.is_set():
            return False
        self.offset = max(self.offset, offset)
        return True
