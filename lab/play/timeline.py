"""Plays the scenario's steps at their offsets on a monotonic clock and records each one's skew: the driver of
`lab run` (lab.play.run). It knows nothing of Docker: it is given `perform` and `prepare` callables (a step's own,
on the stage of the run), so scheduling is tested on a fake clock. Skew is actual minus planned start; `took_s` is
how long the step took to take effect. `record_step` is the one writer of `step` events (a drill's too)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from lab.clock import Clock
from lab.errors import FaultError
from lab.play.steps.base import StepBase, StepFailed
from lab.record.events import EventLog
from lab.record.schema import Step, StepDue, StepPrepared, StepPrepareFailed
from lab.scenario.document import Scenario

Perform = Callable[[StepBase], str]
Prepare = Callable[[StepBase, float], None]
"""Called with a step and the seconds until it is due, before waiting for it: work that need not happen on time
(starting a fault's helper) is done early, so that at the offset only the last move remains."""


class RunStopped(Exception):
    """The stop event was set while waiting for a step."""


@dataclass(frozen=True)
class StepRecord:
    index: int
    action: str
    planned_t: float
    actual_t: float
    took_s: float
    ok: bool
    detail: str
    clock: str = ""
    text: str = ""
    milestone: str | None = None
    fault: str | None = None
    service: str | None = None
    command: tuple[str, ...] = ()

    @property
    def skew_s(self) -> float:
        return self.actual_t - self.planned_t


def record_step(log: EventLog, record: StepRecord) -> None:
    """The `step` event of a step that was performed (or, in a drill, of a milestone the trainee reached)."""
    log.emit(Step(index=record.index, action=record.action, planned_t=round(record.planned_t, 4),
                  skew_s=round(record.skew_s, 4), took_s=round(record.took_s, 4), ok=record.ok, detail=record.detail,
                  clock=record.clock, text=record.text, milestone=record.milestone, fault=record.fault,
                  service=record.service, command=list(record.command) or None), t=record.actual_t)


def perform_step(step: StepBase, planned_t: float, clock: Clock, log: EventLog, perform: Perform) -> StepRecord:
    """Perform `step` now and record it. A responder's failure is recorded and the play goes on; a fault that cannot
    be put in place (FaultError) is recorded and raised."""
    actual = clock.now()
    ok, detail = True, ""
    failure: FaultError | None = None
    try:
        detail = perform(step)
    except FaultError as exc:
        ok, detail, failure = False, str(exc), exc
    except StepFailed as exc:
        ok, detail = False, str(exc)
    except Exception as exc:
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    record = StepRecord(step.index, step.action, planned_t, actual, clock.now() - actual, ok, detail, step.clock,
                        step.text, step.milestone, step.fault, step.service, step.command)
    record_step(log, record)
    if failure is not None:
        raise failure
    return record


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
            self.log.emit(StepDue(index=step.index, action=step.action, planned_t=round(planned, 4), clock=step.clock,
                                  text=step.text))
            if self.prepare is not None:
                self._prepare(step, planned)
            if not self.clock.wait_until(planned, self.stop):
                raise RunStopped
            self.records.append(perform_step(step, planned, self.clock, self.log, self.perform))
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
            self.log.emit(StepPrepareFailed(index=step.index, error=f"{type(exc).__name__}: {exc}"))
            return
        self.log.emit(StepPrepared(index=step.index, action=step.action, took_s=round(self.clock.now() - started, 4)))
