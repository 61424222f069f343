"""What each timeline step does to the stack: faults, responder actions (restart, runbook steps) and notes.

Steps come from the scenario; they only ever act on containers of this run (the stack checks the label). The lab
reverts only the faults the timeline reverts; a runbook step fixes, or does not fix, the rest by itself, and the
fault watch observes which. Whatever is still in place at the end is reverted as cleanup, and recorded as such.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lab.errors import FaultError
from lab.faults import Fault
from lab.play.fault_watch import FaultWatch
from lab.play.runbook import RunbookRunner
from lab.play.timeline import StepFailed
from lab.record.events import EventLog
from lab.scenario.document import ApplyStep, RestartStep, RevertStep, RunbookStep, StepBase
from lab.stack.project import Stack

ARM_MARGIN_S = 60.0
"""How long a prepared fault helper waits past its step's offset before it leaves on its own."""


@dataclass
class StepPerformer:
    stack: Stack
    faults: dict[str, Fault]
    log: EventLog
    watch: FaultWatch | None = None
    runbook: RunbookRunner | None = None
    applied: set[str] = field(default_factory=set)

    def __call__(self, step: StepBase) -> str:
        """Do the step; returns what happened. Raises FaultError when a fault cannot be put in place, StepFailed
        when a responder's step failed (the run goes on)."""
        match step:
            case ApplyStep():
                return self.apply(step.fault_id)
            case RevertStep():
                return self.revert(step.fault_id)
            case RestartStep():
                return self.responder_action(f"restart step {step.index}", frozenset({step.service_name}),
                                             lambda: self.restart(step.service_name))
            case RunbookStep():
                acts_on = step.service_name or step.netns
                return self.responder_action(f"runbook step {step.index}",
                                             None if acts_on is None else frozenset({acts_on}),
                                             lambda: self.run_runbook(step))
            case _:
                return step.text

    def prepare(self, step: StepBase, seconds_until_due: float) -> None:
        """Ahead of an apply step, start its fault's helpers (armed, not yet applied)."""
        if isinstance(step, ApplyStep):
            self.applied.add(step.fault_id)  # a prepared helper is removed with the others, even if never applied
            self.faults[step.fault_id].prepare(arm_timeout_s=seconds_until_due + ARM_MARGIN_S)

    def apply(self, fault_id: str) -> str:
        fault = self.faults[fault_id]
        self.applied.add(fault_id)  # before apply: a half-applied fault is reverted too
        started = time.monotonic()
        said = fault.apply()
        self.log.emit("fault.applied", fault=fault_id, target=fault.spec.target, fault_kind=fault.spec.kind,
                      effect_s=round(time.monotonic() - started, 4), detail=said)
        state = fault.verify()
        self.log.emit("fault.verified", fault=fault_id, applied=state.applied, detail=state.detail)
        if not state.applied:
            raise FaultError(f"fault {fault_id} was applied but is not in effect: {state.detail}")
        if self.watch is not None:
            self.watch.watch(fault_id)
        return state.detail

    def revert(self, fault_id: str, cleanup: bool = False) -> str:
        """The lab removes the fault: a revert step of the timeline, or (`cleanup`) the end of the run."""
        fault = self.faults[fault_id]
        if self.watch is not None:
            self.watch.unwatch(fault_id)
        outcome, state = fault.remove()
        self.applied.discard(fault_id)
        self.log.emit("fault.reverted", fault=fault_id, target=fault.spec.target, outcome=outcome, cleanup=cleanup)
        if isinstance(state, FaultError):
            raise state
        self.log.emit("fault.verified", fault=fault_id, applied=state.applied, detail=state.detail)
        if state.applied:
            raise FaultError(f"fault {fault_id} is still in effect after its revert: {state.detail}")
        return f"{outcome}; {state.detail}"

    def revert_all(self) -> list[str]:
        """Cleanup: revert every fault still applied, each recorded as still in effect or already gone; a failure
        is recorded and does not stop the others."""
        problems = []
        for fault_id in sorted(self.applied):
            try:
                if self.watch is not None and fault_id in self.watch.watching():
                    state = self.faults[fault_id].verify()
                    self.log.emit("fault.cleanup", fault=fault_id, still_in_effect=state.applied,
                                  detail=state.detail)
                self.revert(fault_id, cleanup=True)
            except Exception as exc:
                problems.append(f"{fault_id}: {exc}")
                self.log.emit("fault.revert_failed", fault=fault_id, error=str(exc))
        return problems

    def responder_action(self, what: str, services: frozenset[str] | None, act: Callable[[], str]) -> str:
        """A responder's step acting on `services` (None: anywhere, a script on the host): the fault watch learns
        it began (it may fix a fault held there) and checks right after."""
        begun = self.watch.action(what, services) if self.watch is not None else None
        try:
            return act()
        finally:
            if self.watch is not None and begun is not None:
                self.watch.done(begun)
                self.watch.check_now()

    def restart(self, service: str) -> str:
        self.stack.restart(service)
        self.log.emit("action.restarted", service=service)
        moved = self.follow(service)  # at once: the service has its new address from its start on
        self.stack.wait_serving(service)
        return f"{service} restarted and healthy again" + "".join(f"; {line}" for line in moved)

    def follow(self, service: str) -> list[str]:
        """`service` was restarted (by a step, or a trainee): every applied fault follows it if it came back at
        another address (Fault.follow), recorded as `fault.followed`. Returns what moved."""
        moved = []
        for fault_id in sorted(self.applied):
            detail = self.faults[fault_id].follow()
            if detail:
                self.log.emit("fault.followed", fault=fault_id, service=service, detail=detail)
                moved.append(f"{fault_id} followed it ({detail})")
        return moved

    def run_runbook(self, step: RunbookStep) -> str:
        if self.runbook is None:
            raise StepFailed("runbook steps need a runbook runner")
        result = self.runbook.run(step)
        self.log.emit("runbook.finished", index=step.index, where=step.where, service=step.service,
                      command=list(step.command), exit_code=result.exit_code, duration_s=result.duration_s,
                      output=result.output)
        summary = result.summary(step.timeout_s)
        if not result.ok:
            raise StepFailed(summary)
        return summary
