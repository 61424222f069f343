"""The stage a scenario's steps are performed on: the run's stack, its faults (watched), the runbook runner, the
recording and its synthetic users. Every step kind acts through it (lab.play.steps), and a responder's action is
announced to the fault watch so that a fault it removes is credited to it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lab.play.fault_set import FaultSet
from lab.play.runbook import RunbookRunner
from lab.record.events import EventLog
from lab.record.users import SyntheticUsers
from lab.scenario.timing import TimeSpec
from lab.stack.project import Stack


@dataclass(frozen=True)
class Stage:
    stack: Stack
    faults: FaultSet
    runbook: RunbookRunner
    log: EventLog
    users: SyntheticUsers
    time: TimeSpec
    """The scenario's time as played (at its speed): how long its incident minutes last here."""

    def as_responder(self, what: str, services: frozenset[str] | None, act: Callable[[], str]) -> str:
        """A responder's action on `services` (None: anywhere, a script on the host): the fault watch learns it began
        (it may fix a fault held there) and checks right after it ended."""
        watch = self.faults.watch
        begun = watch.action(what, services)
        try:
            return act()
        finally:
            watch.done(begun)
            watch.check_now()
