"""Runs the scenario's steps at their offsets on a monotonic clock and records each one's skew.

The runner knows nothing of Docker: it is given a `perform` callable, so scheduling is tested on a fake
clock. Skew is actual minus planned start; `took_s` is how long the step took to take effect.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from lab.clock import Clock
from lab.errors import FaultError
from lab.record.events import EventLog
from lab.scenario.document import Scenario, StepBase

Perform = Callable[[StepBase], str]
Prepare = Callable[[StepBase, float], None]
"""Called with a step and the seconds until it is due, before waiting for it: work that need not happen on time
(starting a fault's helper) is done early, so that at the offset only the last move remains."""


class RunStopped(Exception):
    """The stop event was set while waiting for a step."""


class StepFailed(Exception):
    """A step did not do what it should (a runbook command exited non-zero): recorded, and the run goes on."""


@dataclass(frozen=True)
class StepRecord:
    index: int
    action: str
    planned_t: float
    actual_t: float
    took_s: float
    ok: bool
    detail: str

    @property
    def skew_s(self) -> float:
        return self.actual_t - self.planned_t


class Runner:
    def __init__(self, scenario: Scenario, clock: Clock, log: EventLog, perform: Perform,
                 stop: threading.Event | None = None, prepare: Prepare | None = None) -> None:
        self.scenario = scenario
        self.clock = clock
        self.log = log
        self.perform = perform
        self.prepare = prepare
        self.stop = stop or threading.Event()
        self.records: list[StepRecord] = []

    def run(self) -> list[StepRecord]:
        """Every step at its offset, then the tail. A fault that cannot be put in place ends the run."""
        for step in self.scenario.timeline:
            planned = self.scenario.offset_s(step.at_minutes)
            self.log.emit("step.due", index=step.index, action=step.action, planned_t=round(planned, 4),
                          clock=step.clock, text=step.text)
            if self.prepare is not None:
                self._prepare(step, planned)
            if not self.clock.wait_until(planned, self.stop):
                raise RunStopped
            self.records.append(self._run_step(step, planned))
        if not self.clock.wait_until(self.end_s(), self.stop):
            raise RunStopped
        return self.records

    def end_s(self) -> float:
        """The planned end, or the tail after the last step as it really ended if that is later: a runbook that
        ran long (a rolling restart, a database that took its time) still has its recovery watched for the whole
        tail, not for what was left of it."""
        last_done = max((record.actual_t + record.took_s for record in self.records), default=0.0)
        return max(self.scenario.duration_s, last_done + self.scenario.time.tail_s)

    def _prepare(self, step: StepBase, planned: float) -> None:
        started = self.clock.now()
        assert self.prepare is not None
        try:
            self.prepare(step, planned - started)
        except Exception as exc:  # the step itself will do the work (and fail) on time
            self.log.emit("step.prepare_failed", index=step.index, error=f"{type(exc).__name__}: {exc}")
            return
        self.log.emit("step.prepared", index=step.index, action=step.action,
                      took_s=round(self.clock.now() - started, 4))

    def _run_step(self, step: StepBase, planned: float) -> StepRecord:
        actual = self.clock.now()
        ok, detail = True, ""
        try:
            detail = self.perform(step)
        except FaultError as exc:
            self._record(step, planned, actual, ok=False, detail=str(exc))
            raise
        except StepFailed as exc:
            ok, detail = False, str(exc)
        except Exception as exc:
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        return self._record(step, planned, actual, ok=ok, detail=detail)

    def _record(self, step: StepBase, planned: float, actual: float, ok: bool, detail: str) -> StepRecord:
        record = StepRecord(step.index, step.action, planned, actual, self.clock.now() - actual, ok, detail)
        self.log.emit("step", t=actual, index=step.index, action=step.action, planned_t=round(planned, 4),
                      skew_s=round(record.skew_s, 4), took_s=round(record.took_s, 4), ok=ok, detail=detail,
                      clock=step.clock, text=step.text, milestone=step.milestone, fault=step.fault,
                      service=step.service, command=list(step.command) or None)
        return record
