"""The faults of a play, watched while they are meant to be in effect: each is verified every second (its own verify,
in the target's current namespaces) and right after each responder's action, after following any service that
was restarted meanwhile. A fault that goes while the lab did not revert it is recorded as `fault.lost`, with when
and after what: a responder's action (a runbook's fix, a restart, a trainee's command) or nothing the responders
did (removed from outside). One way to credit a fix, for runs and drills alike. An observer: a failing verify is
recorded as a warning, never raised."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lab.clock import Clock
from lab.faults.base import FaultHandle
from lab.judge.windows import OUTSIDE
from lab.record.events import Event, EventLog
from lab.record.schema import FaultLost, RecorderWarning
from lab.stack.labels import ROLE_STACK

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
    def __init__(self, faults: Mapping[str, FaultHandle], log: EventLog, clock: Clock, follow: Callable[[str], object],
                 every_s: float = CHECK_EVERY_S) -> None:
        """`follow(service)` moves the faults with a restarted service (lab.play.fault_set.FaultSet.follow)."""
        self.faults = faults
        self.log = log
        self.clock = clock
        self.follow = follow
        self.every_s = every_s
        self._lock = threading.Lock()
        self._last_seen: dict[str, float] = {}
        self._last_check: dict[str, tuple[float, bool]] = {}
        self._restarted: set[str] = set()
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

    def action(self, what: str, services: frozenset[str] | None = None, t: float | None = None) -> Action:
        """A responder's action begins now, or at `t` (it may remove a fault held in `services`, None: anywhere);
        `done()` it when it ends."""
        begun = Action(self.clock.now() if t is None else t, what, services=services)
        with self._lock:
            self._actions.append(begun)
        return begun

    def done(self, action: Action, t: float | None = None) -> None:
        with self._lock:
            action.end = self.clock.now() if t is None else t

    def __call__(self, event: Event) -> None:
        """An EventLog subscriber: a service of the stack that started again may have to be followed."""
        if event["kind"] == "docker.container" and event.get("action") == "start" and event.get("role") == ROLE_STACK:
            with self._lock:
                self._restarted.add(str(event.get("service")))

    def last_check(self, fault_id: str) -> tuple[float | None, bool | None]:
        """When the fault was last verified, and whether it was in effect then."""
        with self._lock:
            return self._last_check.get(fault_id, (None, None))

    def check_now(self) -> None:
        """Follow the services restarted since the last look, then verify every watched fault once (after a
        responder's action, and every second from the watch's thread)."""
        with self._lock:
            restarted, self._restarted = self._restarted, set()
        for service in sorted(restarted):
            self.follow(service)
        for fault_id in self.watching():
            checked_t = self.clock.now()
            try:
                applied = self.faults[fault_id].verify().applied
            except Exception as exc:  # an observer: the run goes on, the recording says why it could not tell
                if not self._warned:
                    self._warned = True
                    self.log.emit(RecorderWarning(source="fault-watch", message=f"{type(exc).__name__}: {exc}"))
                continue
            self._record(fault_id, applied, checked_t)

    def _record(self, fault_id: str, applied: bool, checked_t: float) -> None:
        with self._lock:
            self._last_check[fault_id] = (checked_t, applied)
            if fault_id not in self._last_seen:  # unwatched meanwhile: the lab is reverting it
                return
            if applied:
                self._last_seen[fault_id] = checked_t
                return
            last_seen_t = self._last_seen.pop(fault_id)
            action = credited(self._actions, last_seen_t, checked_t, self.faults[fault_id].places())
        noticed_t = self.clock.now()
        # Gone somewhere between the last check that saw it and this one: no earlier than either.
        self.log.emit(FaultLost(fault=fault_id, by=action.what if action else OUTSIDE,
                                last_seen_t=round(last_seen_t, 4), noticed_t=round(noticed_t, 4)),
                      t=max(action.t, last_seen_t) if action else noticed_t)

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.check_now()
