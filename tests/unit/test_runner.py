"""Scheduling on an injected clock: steps run at their offsets, in order, with skew and failures recorded."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from rich.console import Console

from lab.clock import FakeClock
from lab.errors import FaultError
from lab.play.fault_set import FAULT_TTL_MARGIN_S, fault_ttl_s
from lab.play.run import TimelineDriver
from lab.play.steps.base import StepBase
from lab.play.steps.restart import RestartStep
from lab.play.steps.runbook import RunbookStep
from lab.play.timeline import Runner, RunStopped
from lab.record.events import EventLog, read_events
from lab.scenario.pacing import faster
from lab.scenario.reader import load
from lab.settings import BUILTIN_SCENARIOS, PROJECT_ROOT
from lab.stack.project import RESTART_STOP_S, RESTART_WAIT_S

SEED = PROJECT_ROOT / "scenarios" / "db-network-misconfig.yaml"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def log(tmp_path: Path, clock: FakeClock) -> EventLog:
    return EventLog(tmp_path / "events.jsonl", clock)


def test_steps_run_at_their_planned_offsets_in_order(clock: FakeClock, log: EventLog) -> None:
    """Each step starts at steady state + minutes x scale; the run lasts until the tail has been observed."""
    scenario = faster(load(SEED), 2)
    seen: list[tuple[float, str]] = []

    def perform(step: StepBase) -> str:
        seen.append((clock.now(), step.action))
        return "done"

    records = Runner(scenario, clock, log, perform).run()
    assert seen == [(scenario.offset_s(s.at_minutes), s.action) for s in scenario.timeline]
    assert [r.skew_s for r in records] == [0.0] * len(scenario.timeline)
    assert clock.now() == pytest.approx(scenario.duration_s)


def test_a_slow_step_delays_the_next_and_the_skew_says_so(clock: FakeClock, log: EventLog) -> None:
    """Steps are sequential: if one takes longer than the gap, the next one's skew shows the delay."""
    scenario = load(SEED)

    def slow_restart(step: StepBase) -> str:
        if step.action == "restart":
            clock.advance(scenario.offset_s(35) - scenario.offset_s(20) + 2.5)  # overruns the 14:35 note
        return "done"

    records = Runner(scenario, clock, log, slow_restart).run()
    by_clock = {scenario.timeline[r.index].clock: r for r in records}
    assert by_clock["14:20"].took_s == pytest.approx(17.5)
    assert by_clock["14:35"].skew_s == pytest.approx(2.5)
    assert by_clock["15:15"].skew_s == 0.0


def test_a_last_step_that_runs_long_still_gets_the_whole_tail_after_it(clock: FakeClock, log: EventLog) -> None:
    """The tail is there to watch the recovery: a runbook that ends after the planned end of the run is followed
    by the whole tail, not by what was left of it (a rolling restart ending 1 s before the planned end left too
    short a recording to judge the recovery by)."""
    scenario = load(SEED)
    last = scenario.timeline[-1]

    def slow_last_step(step: StepBase) -> str:
        if step.index == last.index:
            clock.advance(scenario.time.tail_s + 4.0)  # ends 4 s after the planned end of the run
        return "done"

    Runner(scenario, clock, log, slow_last_step).run()
    assert clock.now() == pytest.approx(scenario.offset_s(last.at_minutes) + 2 * scenario.time.tail_s + 4.0)


def test_a_fault_outlives_the_latest_end_of_its_run(clock: FakeClock, log: EventLog) -> None:
    """Every runbook step taking its whole timeout and every restart as long as it may, then the tail after the last:
    the faults' time-to-live (their helpers' own revert, should the lab vanish) still covers the run, so no fault
    reverts itself while the run watches."""
    scenario = load(BUILTIN_SCENARIOS / "commercelayer-2023-connection-resets.yaml")
    assert any(isinstance(step, RestartStep) for step in scenario.timeline)

    def every_step_as_long_as_it_may(step: StepBase) -> str:
        if isinstance(step, RunbookStep):
            clock.advance(step.timeout_s)
        if isinstance(step, RestartStep):
            clock.advance(RESTART_STOP_S + RESTART_WAIT_S)
        return "done"

    runner = Runner(scenario, clock, log, every_step_as_long_as_it_may)
    runner.run()
    for spec in scenario.faults:
        start, _ = scenario.planned_fault_windows()[spec.id]
        ttl_s = fault_ttl_s(spec, TimelineDriver(Console()).latest_end_s(scenario, spec))
        assert scenario.offset_s(start) + ttl_s >= runner.end_s() + FAULT_TTL_MARGIN_S


def test_every_step_is_recorded_with_planned_and_actual_offset(clock: FakeClock, log: EventLog) -> None:
    """The event log carries one `step` event per step with planned_t, skew and how long it took."""
    scenario = load(SEED)
    Runner(scenario, clock, log, lambda step: "done").run()
    steps = [e for e in read_events(log.path) if e["kind"] == "step"]
    assert [e["index"] for e in steps] == list(range(len(scenario.timeline)))
    assert all({"planned_t", "skew_s", "took_s", "ok", "clock"} <= e.keys() for e in steps)


def test_a_failing_responder_action_is_recorded_and_the_run_goes_on(clock: FakeClock, log: EventLog) -> None:
    """A restart that fails is a finding (ok=false), not a crash: later steps still run."""
    scenario = load(SEED)

    def failing_restart(step: StepBase) -> str:
        if step.action == "restart":
            raise RuntimeError("engine said no")
        return "done"

    records = Runner(scenario, clock, log, failing_restart).run()
    restart = next(r for r in records if r.action == "restart")
    assert not restart.ok and "engine said no" in restart.detail
    assert len(records) == len(scenario.timeline)


def test_a_fault_that_cannot_be_applied_ends_the_run(clock: FakeClock, log: EventLog) -> None:
    """Without its fault the replay means nothing: FaultError propagates after being recorded."""
    scenario = load(SEED)

    def broken_apply(step: StepBase) -> str:
        if step.action == "apply":
            raise FaultError("no iptables")
        return "done"

    with pytest.raises(FaultError):
        Runner(scenario, clock, log, broken_apply).run()
    assert [e["ok"] for e in read_events(log.path) if e["kind"] == "step"] == [False]


def test_a_set_stop_event_ends_the_run_before_the_next_step(clock: FakeClock, log: EventLog) -> None:
    """The stop event (Ctrl-C) is honoured while waiting: no later step runs."""
    scenario = load(SEED)
    stop = threading.Event()
    ran: list[str] = []

    def stop_after_first(step: StepBase) -> str:
        ran.append(step.action)
        stop.set()
        return "done"

    with pytest.raises(RunStopped):
        Runner(scenario, clock, log, stop_after_first, stop).run()
    assert ran == ["apply"]


def test_each_step_is_prepared_before_its_offset(clock: FakeClock, log: EventLog) -> None:
    """prepare(step, seconds until due) runs before the wait, so only the last move happens on time."""
    scenario = load(SEED)
    calls: list[tuple[str, float, float]] = []

    def prepare(step: StepBase, until_due: float) -> None:
        calls.append((step.action, clock.now(), until_due))

    Runner(scenario, clock, log, lambda step: "done", prepare=prepare).run()
    first = calls[0]
    assert first == ("apply", 0.0, scenario.offset_s(0))
    assert [action for action, _, _ in calls] == [s.action for s in scenario.timeline]


def test_a_failing_prepare_is_recorded_and_the_step_still_runs(clock: FakeClock, log: EventLog) -> None:
    """Preparation is an optimisation: if it fails the step does the whole work at its offset."""
    scenario = load(SEED)

    def broken_prepare(step: StepBase, until_due: float) -> None:
        raise RuntimeError("helper image missing")

    records = Runner(scenario, clock, log, lambda step: "done", prepare=broken_prepare).run()
    assert len(records) == len(scenario.timeline) and all(r.ok for r in records)
    failures = [e for e in read_events(log.path) if e["kind"] == "step.prepare_failed"]
    assert len(failures) == len(scenario.timeline) and "helper image missing" in failures[0]["error"]
