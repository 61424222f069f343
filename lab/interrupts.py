"""Ctrl-C and SIGTERM during a run: the first one interrupts the run (cleanup then runs in `finally`);
any later one is only acknowledged, so that nothing can cut the cleanup short."""

from __future__ import annotations

import signal
import sys
from types import FrameType, TracebackType
from typing import Any

from lab.errors import EXIT_SIGINT, EXIT_SIGTERM

SIGNAL_EXIT_CODES = {signal.SIGINT: EXIT_SIGINT, signal.SIGTERM: EXIT_SIGTERM}


class RunInterrupted(BaseException):
    """Raised in the main thread by the first SIGINT/SIGTERM. A BaseException, like KeyboardInterrupt, so that
    `except Exception` in observers does not swallow it."""

    def __init__(self, signal_name: str, exit_code: int) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.exit_code = exit_code


class SignalGuard:
    def __init__(self) -> None:
        self.received: RunInterrupted | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalGuard:
        for signum in SIGNAL_EXIT_CODES:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.received is not None:
            print(f"lab: {name} received again: still cleaning up (faults, stack), please wait", file=sys.stderr)
            return
        self.received = RunInterrupted(name, SIGNAL_EXIT_CODES[signal.Signals(signum)])
        print(f"lab: {name} received: reverting faults and removing the stack", file=sys.stderr)
        raise self.received
