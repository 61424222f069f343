"""The faults of a play: built from the scenario's specs with one time-to-live policy, prepared ahead of their moment,
applied and verified (by an apply step, or by a deploy onto a release fault's release), watched while they are meant
to be in effect, moved when a service they name comes back at another address, and reverted: by a step of the
timeline, or at the end as cleanup.

The lab reverts only the faults the timeline reverts; a runbook step (or a trainee) fixes, or does not fix, the rest
by itself, and the fault watch observes which. Whatever is still in place at the end is reverted as cleanup, and
recorded as such."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from lab.clock import Clock
from lab.errors import FaultError
from lab.faults import build_fault
from lab.faults.base import FaultHandle, FaultSpec
from lab.faults.fault import ARM_MARGIN_S
from lab.faults.release import deployed_faults
from lab.faults.target import StackTarget
from lab.play.fault_watch import FaultWatch
from lab.record.events import EventLog
from lab.record.schema import FaultApplied, FaultCleanup, FaultFollowed, FaultReverted, FaultRevertFailed, FaultVerified

FAULT_TTL_MARGIN_S = 60.0
"""A fault outlives its play by at most this much should both the lab and its attachment vanish."""


def fault_ttl_s(spec: FaultSpec, latest_end_s: float) -> float:
    """The time-to-live of a fault, counted from its apply: the scenario's own (`ttl_s`), else the latest the play
    may end after the apply, plus a margin. The second line of defence (the dead-man switch is the first): it must
    not remove a fault the responders failed to remove before the play's cleanup has seen it."""
    return spec.ttl_s if spec.ttl_s is not None else latest_end_s + FAULT_TTL_MARGIN_S


class FaultSet:
    def __init__(self, specs: tuple[FaultSpec, ...], target: StackTarget, log: EventLog, clock: Clock,
                 latest_end_s: Callable[[FaultSpec], float]) -> None:
        """`latest_end_s`: how long after a fault's apply the play may last at the latest (its driver's)."""
        self.faults: dict[str, FaultHandle] = {spec.id: build_fault(spec, target, fault_ttl_s(spec, latest_end_s(spec)))
                                         for spec in specs}
        self.log = log
        self.clock = clock
        self.watch = FaultWatch(self.faults, log, clock, follow=self.follow)
        log.subscribe(self.watch)
        self.applied: set[str] = set()
        self._lock = threading.Lock()

    def prepare(self, fault_id: str, seconds_until_due: float) -> None:
        """Start the fault's helpers armed, ahead of its moment: at the moment only a line on their stdin remains."""
        with self._lock:
            self.applied.add(fault_id)  # a prepared helper is removed with the others, even if never applied
        self.faults[fault_id].prepare(arm_timeout_s=seconds_until_due + ARM_MARGIN_S)

    def apply(self, fault_id: str) -> str:
        """Put the fault in place, verify it is, and watch it from then on. FaultError if it is not in effect."""
        with self._lock:
            self.applied.add(fault_id)  # before apply: a half-applied fault is reverted too
        started = time.monotonic()
        said = self.faults[fault_id].apply()
        return self._began(fault_id, said, round(time.monotonic() - started, 4))

    def deployed(self, service: str, release: str, since: float, by: str) -> list[str]:
        """A deploy (`by`) rolled `service` onto `release`, its replacement begun at `since`: each declared release
        fault of that service and release not already in place is, from then on (lab.faults.release). Returns
        what it put in place."""
        said = []
        specs = [fault.spec for fault in self.faults.values()]
        for fault_id in deployed_faults(specs, service, release):
            if fault_id in self.watch.watching():
                continue
            with self._lock:
                self.applied.add(fault_id)  # reverted at cleanup, should nothing roll it back
            effect_s = round(self.clock.now() - since, 4)
            self._began(fault_id, f"{service} rolled to release {release} by {by}", effect_s, by=by, t=since)
            said.append(f"fault {fault_id} in place")
        return said

    def _began(self, fault_id: str, said: str, effect_s: float, by: str | None = None, t: float | None = None) -> str:
        """The fault was just put in place (at `t`, default now): recorded, verified, and watched from then on.
        FaultError if it is not in effect."""
        fault = self.faults[fault_id]
        self.log.emit(FaultApplied(fault=fault_id, target=fault.spec.target, fault_kind=fault.spec.kind,
                                   effect_s=effect_s, detail=said, by=by), t=t)
        state = fault.verify()
        self.log.emit(FaultVerified(fault=fault_id, applied=state.applied, detail=state.detail))
        if not state.applied:
            raise FaultError(f"fault {fault_id} was applied but is not in effect: {state.detail}")
        self.watch.watch(fault_id)
        return state.detail

    def revert(self, fault_id: str, cleanup: bool = False) -> str:
        """The lab removes the fault: a revert step of the timeline, or (`cleanup`) the end of the play."""
        fault = self.faults[fault_id]
        self.watch.unwatch(fault_id)
        outcome, state = fault.remove()
        with self._lock:
            self.applied.discard(fault_id)
        self.log.emit(FaultReverted(fault=fault_id, target=fault.spec.target, outcome=outcome, cleanup=cleanup))
        if isinstance(state, FaultError):
            raise state
        self.log.emit(FaultVerified(fault=fault_id, applied=state.applied, detail=state.detail))
        if state.applied:
            raise FaultError(f"fault {fault_id} is still in effect after its revert: {state.detail}")
        return f"{outcome}; {state.detail}"

    def revert_all(self) -> list[str]:
        """Cleanup: revert every fault still applied, each recorded as still in effect or already gone; a failure
        is recorded and does not stop the others. Returns the failures."""
        problems = []
        with self._lock:
            still = sorted(self.applied)
        for fault_id in still:
            try:
                if fault_id in self.watch.watching():
                    state = self.faults[fault_id].verify()
                    self.log.emit(FaultCleanup(fault=fault_id, still_in_effect=state.applied, detail=state.detail))
                self.revert(fault_id, cleanup=True)
            except Exception as exc:
                problems.append(f"{fault_id}: {exc}")
                self.log.emit(FaultRevertFailed(fault=fault_id, error=str(exc)))
        return problems

    def follow(self, service: str) -> list[str]:
        """`service` was restarted (by a step, a script or a trainee): every applied fault follows it if it came
        back at another address (Fault.follow), recorded as `fault.followed`. Returns what moved."""
        moved = []
        with self._lock:
            applied = sorted(self.applied)
        for fault_id in applied:
            detail = self.faults[fault_id].follow()
            if detail:
                self.log.emit(FaultFollowed(fault=fault_id, service=service, detail=detail))
                moved.append(f"{fault_id} followed it ({detail})")
        return moved
