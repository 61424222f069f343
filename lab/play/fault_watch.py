"""The faults of a run, watched while they are meant to be in effect, as a drill watches its fault: each is verified
every second (its own verify, in the target's current namespaces), and right after each responder step. A fault
that goes while the lab did not revert it is recorded as `fault.lost`, with when and after what: a responder's
step (a runbook's fix, a restart) or nothing the scenario did (removed from outside). An observer: a failing
verify is recorded as a warning, never raised."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

from lab.clock import Clock
from lab.faults import Fault
from lab.judge.analysis import OUTSIDE
from lab.record.events import EventLog

CHECK_EVERY_S = 1.0


@dataclass
class Action:
    t: float
    what: str
    """E.g. "runbook step 5", "restart step 2"."""
    end: float | None = None
    """None while it runs."""
    services: frozenset[str] | None = None
    """The services it acts on (a restart, a command in a service or its network namespace); None: it may act on
    any (a script on the host)."""

    def may_touch(self, places: frozenset[str]) -> bool:
        return self.services is None or not self.services.isdisjoint(places)


def credited(actions: list[Action], last_seen_t: float, noticed_t: float,
             places: frozenset[str] | None = None) -> Action | None:
    """The responder action that removed a fault held in `places` (the services whose namespaces or state hold it;
    None: anywhere): of those that act there and ran at some moment between the last check that saw the fault and
    the first that did not (checks only poll), the last begun; None if nothing that could have was done then."""
    running = [action for action in actions
               if action.t <= noticed_t and (action.end is None or action.end >= last_seen_t)
               and (places is None or action.may_touch(places))]
    return max(running, key=lambda action: action.t, default=None)


class FaultWatch:
    def __init__(self, faults: Mapping[str, Fault], log: EventLog, clock: Clock,
                 every_s: float = CHECK_EVERY_S) -> None:
        self.faults = faults
        self.log = log
        self.clock = clock
        self.every_s = every_s
        self._lock = threading.Lock()
        self._last_seen: dict[str, float] = {}
        self._actions: list[Action] = []
        self._warned = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fault-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def watch(self, fault_id: str) -> None:
        """The fault was just put in place: watch it from now on."""
        with self._lock:
            self._last_seen[fault_id] = self.clock.now()

    def unwatch(self, fault_id: str) -> None:
        """The lab itself is about to revert it: its going is no news."""
        with self._lock:
            self._last_seen.pop(fault_id, None)

    def watching(self) -> list[str]:
        with self._lock:
            return sorted(self._last_seen)

    def action(self, what: str, services: frozenset[str] | None = None) -> Action:
        """A responder's step begins now (it may remove a fault held in `services`, None: anywhere); `done()` it
        when it ends."""
        begun = Action(self.clock.now(), what, services=services)
        with self._lock:
            self._actions.append(begun)
        return begun

    def done(self, action: Action) -> None:
        with self._lock:
            action.end = self.clock.now()

    def check_now(self) -> None:
        """Verify every watched fault once (after a responder step, and every second from the watch's thread)."""
        for fault_id in self.watching():
            checked_t = self.clock.now()
            try:
                applied = self.faults[fault_id].verify().applied
            except Exception as exc:  # an observer: the run goes on, the recording says why it could not tell
                if not self._warned:
                    self._warned = True
                    self.log.emit("recorder.warning", source="fault-watch", message=f"{type(exc).__name__}: {exc}")
                continue
            self._record(fault_id, applied, checked_t)

    def _record(self, fault_id: str, applied: bool, checked_t: float) -> None:
        with self._lock:
            if fault_id not in self._last_seen:  # unwatched meanwhile: the lab is reverting it
                return
            if applied:
                self._last_seen[fault_id] = checked_t
                return
            last_seen_t = self._last_seen.pop(fault_id)
            action = credited(self._actions, last_seen_t, checked_t, self.faults[fault_id].places())
        noticed_t = self.clock.now()
        # Gone somewhere between the last check that saw it and this one: no earlier than either.
        self.log.emit("fault.lost", t=max(action.t, last_seen_t) if action else noticed_t, fault=fault_id,
                      by=action.what if action else OUTSIDE, last_seen_t=round(last_seen_t, 4),
                      noticed_t=round(noticed_t, 4))

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.check_now()
