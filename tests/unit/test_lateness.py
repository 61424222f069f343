"""Request start lateness: the generator's schedule on a fake clock, the lateness figures of a recording, and
the check that judges a recording unreliable when its generator fell behind."""

from __future__ import annotations

import pytest

from lab.judge.analysis import analyse
from lab.judge.checks import evaluate
from lab.judge.checks.generator_kept_up import NAME as GENERATOR_KEPT_UP
from lab.judge.lateness import LATE_S, describe, lateness_of
from lab.judge.requests import Request
from lab.judge.verdict import verdict_of
from lab.record.schedule import Schedule
from lab.record.schema import GENERATOR_SOURCE
from lab.scenario.reader import load
from lab.settings import PROJECT_ROOT

from .streams import Incident, event, recording

SEED = load(PROJECT_ROOT / "scenarios" / "db-network-misconfig.yaml")
MAX_P99_S = SEED.traffic.max_lateness_p99_s


def test_due_gives_every_planned_start_reached_once_in_order() -> None:
    """Woken at arbitrary moments, the schedule hands out each sequence number exactly once, when its planned
    start (start + seq / rate) has come: nothing skipped after a long stall, nothing early."""
    start, rate = 3.0, 1000.0
    handed: list[int] = []
    next_seq = 0
    for now in (2.9, 3.0, 3.0004, 3.0021, 3.5, 3.5, 3.5007, 4.0):  # 3.5: a stall of half a second
        batch = Schedule.steady(start, 0, rate).due(next_seq, now)
        assert all(start + seq / rate <= now + 1e-9 for seq in batch)
        handed += batch
        next_seq = batch.stop if len(batch) else next_seq
    assert handed == list(range(1001))


def test_due_at_a_low_rate_waits_for_the_next_planned_start() -> None:
    """At 0.5 req/s the second request is due two seconds after the first, not before."""
    schedule = Schedule.steady(0.0, 0, 0.5)
    assert list(schedule.due(0, 0.0)) == [0]
    assert list(schedule.due(1, 1.99)) == []
    assert list(schedule.due(1, 2.0)) == [1]


def test_lateness_figures_are_nearest_rank_and_count_requests_over_10_ms() -> None:
    """p50 / p99 / max of start lateness and the count of requests that started more than 10 ms late."""
    figures = lateness_of([0.001] * 97 + [0.02, 0.03, 0.2])
    assert (figures.requests, figures.p50_s, figures.p99_s, figures.max_s) == (100, 0.001, 0.03, 0.2)
    assert figures.late == 3 and figures.late_over_s == LATE_S
    assert describe(figures) == "p50 1.0 ms, p99 30.0 ms, max 200.0 ms; 3 of 100 requests over 10 ms"


def test_old_recordings_without_actual_starts_count_as_on_time() -> None:
    """A request event without `started_t` (recorded before planned starts existed) is taken as planned = actual."""
    old = Request.from_event({"t": 1.0, "latency_s": 0.01, "ok": True})
    new = Request.from_event({"t": 1.0, "started_t": 1.004, "latency_s": 0.01, "ok": True})
    assert old.lateness_s == 0.0
    assert new.lateness_s == pytest.approx(0.004)
    analysis = analyse(recording(Incident()))
    assert analysis.lateness.requests > 0 and analysis.lateness.max_s == 0.0


def test_a_punctual_generator_passes_and_the_verdict_is_the_apps() -> None:
    """Requests started within a millisecond of plan: the generator check passes and the run passes."""
    analysis = analyse(recording(Incident(late_s=lambda seq: 0.0004 + (seq % 7) * 0.0001)))
    results = evaluate(analysis, SEED.checks, MAX_P99_S)
    assert results[0].name == GENERATOR_KEPT_UP and results[0].passed and results[0].of_recording
    assert verdict_of(analysis, results) == "pass"


def test_a_generator_that_fell_behind_makes_the_recording_unreliable() -> None:
    """One request in twenty starting 150 ms late (a stalled generator) fails the generator check, and the run's
    verdict is "unreliable", not "fail", even though the app's checks would pass."""
    analysis = analyse(recording(Incident(late_s=lambda seq: 0.15 if seq % 20 == 0 else 0.0005)))
    results = evaluate(analysis, SEED.checks, MAX_P99_S)
    kept_up = next(r for r in results if r.name == GENERATOR_KEPT_UP)
    assert not kept_up.passed and "p99 150.0 ms" in kept_up.detail
    assert all(r.passed for r in results if r is not kept_up)
    assert verdict_of(analysis, results) == "unreliable"


def test_a_generator_that_failed_makes_the_recording_unreliable_whatever_its_lateness() -> None:
    """The generator failed while sending (the loadgen): the recorder's warning fails the generator check with its
    reason, and the verdict is "unreliable" although every request it did record started on time."""
    events = recording(Incident(late_s=lambda seq: 0.0005))
    events.insert(-1, event("recorder.warning", 79.0, source=GENERATOR_SOURCE,
                            message="the load generator failed: OSError(24, 'Too many open files')"))
    analysis = analyse(events)
    results = evaluate(analysis, SEED.checks, MAX_P99_S)
    kept_up = next(r for r in results if r.name == GENERATOR_KEPT_UP)
    assert not kept_up.passed and kept_up.detail == "the load generator failed: OSError(24, 'Too many open files')"
    assert verdict_of(analysis, results) == "unreliable"


def test_the_app_failing_on_a_punctual_recording_is_a_plain_fail() -> None:
    """With the generator on time, a failed scenario check gives "fail" (exit 1), not "unreliable"."""
    analysis = analyse(recording(Incident(fault_cleared_t=70.0, late_s=lambda seq: 0.0005)))
    assert verdict_of(analysis, evaluate(analysis, SEED.checks, MAX_P99_S)) == "fail"


def test_the_console_summary_shows_start_lateness() -> None:
    """The summary table printed after a run has a row with p50, p99, max and the count over 10 ms."""
    from rich.console import Console

    from lab.judge.summary import summary_document
    from lab.play.console import summary_table

    analysis = analyse(recording(Incident(late_s=lambda seq: 0.012 if seq == 5 else 0.0004)))
    results = evaluate(analysis, SEED.checks, MAX_P99_S)
    summary = summary_document("r1", SEED, 1.0, analysis, results, verdict_of(analysis, results))
    console = Console(record=True, width=200)
    console.print(summary_table(summary))
    shown = console.export_text()
    assert "request start lateness" in shown and "1 of 1,600 requests over 10 ms" in shown
    assert summary["lateness"]["requests"] == 1600 and summary["verdict"] == "pass"
