"""What each timeline step does to the stack: faults, responder actions (restart, exec) and notes.

Steps come from the scenario; they only ever act on containers of this run (the stack checks the label).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from docker.errors import APIError

from lab.errors import FaultError, StackError
from lab.events import EventLog
from lab.faults import Fault
from lab.scenario import ApplyStep, ExecStep, RestartStep, RevertStep, StepBase
from lab.stack import Stack

EXEC_OUTPUT_LIMIT = 500
ARM_MARGIN_S = 60.0
"""How long a prepared fault helper waits past its step's offset before it leaves on its own."""


@dataclass
class StepPerformer:
    stack: Stack
    faults: dict[str, Fault]
    log: EventLog
    applied: set[str] = field(default_factory=set)

    def __call__(self, step: StepBase) -> str:
        """Do the step; returns what happened. Raises FaultError when a fault cannot be put in place."""
        match step:
            case ApplyStep():
                return self.apply(step.fault_id)
            case RevertStep():
                return self.revert(step.fault_id)
            case RestartStep():
                return self.restart(step.service_name)
            case ExecStep():
                return self.exec(step.service_name, list(step.argv))
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
        return state.detail

    def revert(self, fault_id: str) -> str:
        fault = self.faults[fault_id]
        outcome = fault.revert()
        self.applied.discard(fault_id)
        self.log.emit("fault.reverted", fault=fault_id, target=fault.spec.target, outcome=outcome)
        state = fault.verify()
        self.log.emit("fault.verified", fault=fault_id, applied=state.applied, detail=state.detail)
        if state.applied:
            raise FaultError(f"fault {fault_id} is still in effect after its revert: {state.detail}")
        return f"{outcome}; {state.detail}"

    def revert_all(self) -> list[str]:
        """Revert every fault still applied; each failure is recorded, none stops the others."""
        problems = []
        for fault_id in sorted(self.applied):
            try:
                self.revert(fault_id)
            except Exception as exc:
                problems.append(f"{fault_id}: {exc}")
                self.log.emit("fault.revert_failed", fault=fault_id, error=str(exc))
        return problems

    def restart(self, service: str) -> str:
        container = self.stack.container(service)
        try:
            container.restart(timeout=5)
        except APIError as exc:
            raise StackError(f"restart of {service} failed: {exc.explanation or exc}") from exc
        self.log.emit("action.restarted", service=service)
        self.stack.wait_healthy((service,), timeout_s=60, poll_s=0.1)
        return f"{service} restarted and healthy again"

    def exec(self, service: str, argv: list[str]) -> str:
        container = self.stack.container(service)
        result = container.exec_run(argv)  # argv list: never through a shell string
        output = result.output.decode(errors="replace").strip()[-EXEC_OUTPUT_LIMIT:]
        self.log.emit("action.exec", service=service, command=argv, exit_code=result.exit_code, output=output)
        return f"`{' '.join(argv)}` in {service} exited {result.exit_code}"
