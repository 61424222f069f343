"""The built-in app's pools come back every time: github-2022's connection limit applied and lifted again and again
under the synthetic users' traffic, held from one second to well past the pools' reconnect timeout (5 s), and users
are back to steady state within the scenario's own recovery bound after each lift. The faults are played as a run
plays them (lab.play.fault_set), their watch verifying every second: each lift is answered at once, never held
behind a verify."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from lab.clock import MonotonicClock
from lab.faults.db_connection_limit import DbConnectionLimitSpec
from lab.faults.target import StackTarget
from lab.judge.checks.recovery import KIND as RECOVERY
from lab.judge.requests import RecoveryCriteria, Request, find_recovery
from lab.play.fault_set import FaultSet
from lab.record.events import Event, EventLog
from lab.record.users import SyntheticUsers
from lab.scenario.reader import load
from lab.settings import BUILTIN_SCENARIOS
from lab.stack.attach import REPLY_TIMEOUT_S
from lab.stack.engine import Engine
from lab.stack.images import LabImages
from tests.figures import Figure

from .helpers import wait_until

pytestmark = pytest.mark.docker

SCENARIO = load(BUILTIN_SCENARIOS / "github-2022-connection-limit.yaml")
HOLDS_S = (1.0, 4.0, 8.0, 14.0, 1.0, 4.0, 8.0, 14.0)
"""How long each lift's limit was held: shorter than the pools' reconnect timeout (they are still retrying when it
is lifted), about as long, and long past it (they have given up, and grow again on demand)."""


class Requests:
    """The requests of an event log, kept as they are recorded."""

    def __init__(self) -> None:
        self.seen: list[Request] = []
        self.warnings: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if event["kind"] == "request":
            with self._lock:
                self.seen.append(Request.from_event(event))
        elif event["kind"] == "recorder.warning":
            self.warnings.append(str(event.get("message")))

    def since(self, t: float) -> list[Request]:
        with self._lock:
            return sorted((r for r in self.seen if r.t >= t), key=lambda r: r.t)

    def failing_since(self, t: float) -> bool | None:
        """True once a request started at `t` or later failed; None until then."""
        return any(not r.ok for r in self.since(t)) or None

    def recovered_since(self, t: float, criteria: RecoveryCriteria) -> float | None:
        """When users were back to steady state after `t`, by the recovery rule; None until they are."""
        return find_recovery(self.since(t), t, criteria)


@pytest.fixture
def users_on_a_stack(engine: Engine, lab_images: LabImages, tmp_path: Path) -> \
        Iterator[tuple[StackTarget, Requests, EventLog, MonotonicClock]]:
    with engine.stack(images=lab_images) as stack:
        clock = MonotonicClock()
        log = EventLog(tmp_path / "events.jsonl", clock)
        requests = Requests()
        log.subscribe(requests)
        users = SyntheticUsers(stack.endpoints().lb_url, SCENARIO.traffic, log, clock)
        users.start()
        try:
            yield StackTarget(stack, lab_images.tools), requests, log, clock
        finally:
            users.stop()
            log.close()


def test_users_are_back_within_the_bound_after_every_lift(
        users_on_a_stack: tuple[StackTarget, Requests, EventLog, MonotonicClock], figure: Figure) -> None:
    """Each lift: every replica failing first (the limit took hold), then recovered by the scenario's recovery rule
    within its bound (12 s), eight times in a row; each lift answered by the fault's helper (none waited for a
    reply until the lab gave up on it), and every verify of the watch answered."""
    target, requests, log, clock = users_on_a_stack
    rule = SCENARIO.checks.section(RECOVERY)
    assert rule is not None
    criteria = rule.criteria()
    spec = SCENARIO.faults[0]
    assert isinstance(spec, DbConnectionLimitSpec)
    faults = FaultSet((spec,), target, log, clock, latest_end_s=lambda _: 600)
    recoveries: list[float] = []
    lifts: list[float] = []
    faults.watch.start()
    try:
        for hold_s in HOLDS_S:
            applied_t = clock.now()
            faults.apply(spec.id)
            wait_until(partial(requests.failing_since, applied_t), "a request failing", timeout_s=30)
            time.sleep(hold_s)  # the fault's duration: what the cycle is about, not a wait for something
            asked_t = clock.now()
            faults.revert(spec.id)
            lifted_t = clock.now()
            lifts.append(lifted_t - asked_t)
            recovered = wait_until(partial(requests.recovered_since, lifted_t, criteria),
                                   f"users back after the lift of a {hold_s:g} s hold",
                                   timeout_s=rule.within_s + 3 * criteria.window_s)
            recoveries.append(recovered - lifted_t)
    finally:
        faults.watch.stop()
        faults.revert_all()
    assert requests.warnings == []
    assert max(lifts) < REPLY_TIMEOUT_S, lifts
    assert all(seconds <= rule.within_s for seconds in recoveries), recoveries
    held = ", ".join(f"{hold:g}" for hold in HOLDS_S)
    back = ", ".join(f"{seconds:.1f}" for seconds in recoveries)
    figure(f"[pool recovery] {len(recoveries)} lifts of github-2022's limit (held {held} s), its watch verifying "
           f"every second: each lift took at most {max(lifts):.2f} s; users back {back} s after each")
