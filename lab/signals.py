"""Ctrl-C and SIGTERM during a run: the first one interrupts the run (cleanup then runs in `finally`);
any later one is only acknowledged, so that nothing can cut the cleanup short. `run_guarded` plays a run's body
under that guard and hands back how it ended, so the caller can judge what was recorded before reporting it."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Any

from lab.errors import EXIT_SIGINT, EXIT_SIGTERM, Interrupted, LabError
from lab.stack.docker_api import ENGINE_ERRORS, engine_failed

SIGNAL_EXIT_CODES = {signal.SIGINT: EXIT_SIGINT, signal.SIGTERM: EXIT_SIGTERM}


class RunInterrupted(BaseException):
    """Raised in the main thread by the first SIGINT/SIGTERM. A BaseException, like KeyboardInterrupt, so that
    `except Exception` in observers does not swallow it."""

    def __init__(self, signal_name: str, exit_code: int) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.exit_code = exit_code


class SignalGuard:
    """SIGINT/SIGTERM while it is entered: the first interrupts (RunInterrupted), later ones are acknowledged. With
    `interrupt=False` every one is only acknowledged: for work that must finish once the run is over."""

    def __init__(self, interrupt: bool = True) -> None:
        self.received: RunInterrupted | None = None
        self.interrupt = interrupt
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
        if not self.interrupt:
            print(f"lab: {name} received: the run is over; removing its stack and writing its report, please wait",
                  file=sys.stderr)
            return
        if self.received is not None:
            print(f"lab: {name} received again: still cleaning up (faults, stack), please wait", file=sys.stderr)
            return
        self.received = RunInterrupted(name, SIGNAL_EXIT_CODES[signal.Signals(signum)])
        print(f"lab: {name} received: reverting faults and removing the stack", file=sys.stderr)
        raise self.received


@dataclass
class GuardedOutcome:
    """How a guarded body ended (its cleanup has run): stopped by a signal, failed with an error, or neither."""

    received: RunInterrupted | None = None
    failure: LabError | None = None

    def add(self, error: BaseException | None) -> None:
        """A failure of work that went on after the body: the stack's removal. It replaces the body's own failure,
        as an exception raised while leaving a `with` block would: what is left behind, and how it goes, is what
        the user has to act on (why the run stopped is in its recording)."""
        if error is None:
            return
        if isinstance(error, LabError):
            self.failure = error
        elif isinstance(error, ENGINE_ERRORS):
            self.failure = engine_failed(error)
        else:
            raise error

    def raise_if_stopped(self) -> None:
        """Report the end to the user: the signal's Interrupted (naming what cleanup could not do), else the error."""
        if self.received is not None:
            raise Interrupted(self.received.signal_name, self.received.exit_code, self.failure)
        if self.failure is not None:
            raise self.failure


def run_guarded(body: Callable[[], None]) -> GuardedOutcome:
    """Run `body` with SIGINT/SIGTERM turned into a clean stop. Lab errors and failed Docker calls are collected
    rather than raised: the recording is judged first, then `raise_if_stopped` reports them."""
    outcome = GuardedOutcome()
    with SignalGuard() as guard:
        try:
            body()
        except RunInterrupted:
            pass  # cleanup already ran in the body's `finally` blocks and the stack's __exit__
        except LabError as exc:
            outcome.failure = exc
        except ENGINE_ERRORS as exc:  # a Docker call failed outside the recorder's watch (e.g. while tearing down)
            outcome.failure = engine_failed(exc)
        outcome.received = guard.received
    return outcome
