"""Timeline analysis on synthetic recordings: milestones, intervals, impact windows and recovery."""

from __future__ import annotations

import pytest

from lab.judge.analysis import RESTART_SETTLE_S, Analysis, Milestone, analyse
from lab.judge.requests import RecoveryCriteria, find_recovery, percentile, requests_from
from lab.judge.windows import WindowImpact

from .streams import Incident, recording


def milestone(analysis: Analysis, name: str) -> Milestone:
    found = analysis.milestone(name)
    assert found is not None, f"no milestone {name!r}"
    return found


def window(impact: WindowImpact | None) -> WindowImpact:
    assert impact is not None, "no such window in the analysis"
    return impact


def test_percentile_is_nearest_rank() -> None:
    """p50 of 1..10 is 5, p95 is 10, and no values give None."""
    assert percentile(range(1, 11), 50) == 5
    assert percentile(range(1, 11), 95) == 10
    assert percentile([], 50) is None


def test_milestones_follow_the_incident() -> None:
    """Fault, first failure, alert, restart, identified, mitigation, recovery and end appear in time order."""
    analysis = analyse(recording())
    names = [m.name for m in analysis.milestones]
    assert names == ["traffic started", "fault injected", "impact started", "investigating", "alert fired",
                     "restart db", "identified", "mitigation", "recovered", "end"]
    assert milestone(analysis, "impact started").t == pytest.approx(15.05)  # first app-2 request after the fault
    assert milestone(analysis, "mitigation").clock == "15:30"


def test_intervals_name_their_start_and_end() -> None:
    """detect = fault -> alert, mitigate = alert -> fix, recover = fix -> steady; user impact ends at steady too."""
    intervals = {i.name: i for i in analyse(recording()).intervals}
    assert (intervals["detect"].start, intervals["detect"].end) == ("fault injected", "alert fired")
    assert intervals["detect"].seconds == pytest.approx(3.499)
    assert intervals["identify"].seconds == pytest.approx(25.0)
    assert intervals["mitigate"].seconds == pytest.approx(26.501)
    assert intervals["recover"].seconds == pytest.approx(0.0, abs=0.1)
    assert intervals["user impact"].seconds == pytest.approx(45.0 - 15.05, abs=0.1)


def test_impact_is_a_third_and_all_of_it_is_app_2() -> None:
    """During the fault one replica in three fails, slowly; steady state before it is clean."""
    analysis = analyse(recording())
    assert window(analysis.steady).overall.error_rate == 0.0
    fault = window(analysis.fault)
    assert fault.overall.error_rate == pytest.approx(1 / 3, abs=0.01)
    assert fault.per_replica["app-2"].error_rate == 1.0
    assert fault.per_replica["app-1"].error_rate == 0.0
    assert fault.overall.failure_p50_s == 3.0
    assert fault.overall.p95_s == 3.0


def test_window_after_the_restart_shows_it_changed_nothing() -> None:
    """The restart's window starts once it is healthy plus settling time, and still shows a third failing."""
    analysis = analyse(recording())
    after_restart = window(analysis.after_restart)
    assert after_restart.start == pytest.approx(21.001 + 1.6 + RESTART_SETTLE_S)
    assert after_restart.overall.error_rate == pytest.approx(1 / 3, abs=0.02)


def test_no_recovery_when_the_fix_does_not_clear_the_fault() -> None:
    """If the fault outlives the fix, recovery comes only when the fault really goes."""
    analysis = analyse(recording(Incident(fault_cleared_t=70.0)))
    assert milestone(analysis, "recovered").t == pytest.approx(70.0, abs=0.1)
    recover = next(i for i in analysis.intervals if i.name == "recover")
    assert recover.seconds == pytest.approx(25.0, abs=0.1)


def test_recovery_needs_a_full_clean_window() -> None:
    """A window that runs past the end of the recording does not count as recovered."""
    requests = requests_from(recording(Incident(fault_cleared_t=None)))
    assert find_recovery(requests, after=45.0, criteria=RecoveryCriteria()) is None


def test_slow_successes_are_not_a_recovery() -> None:
    """Requests that succeed only after waiting seconds (queued behind the outage) do not count as recovered."""
    requests = requests_from(recording(Incident(fault_cleared_t=None, failure_latency_s=3.0)))
    slow_but_ok = [r.__class__(r.t, r.latency_s, True, r.replica, 200, None, r.endpoint) for r in requests]
    assert find_recovery(slow_but_ok, after=45.0, criteria=RecoveryCriteria(max_latency_s=1.0)) is None
    assert find_recovery(slow_but_ok, after=45.0, criteria=RecoveryCriteria(max_latency_s=5.0)) == 45.0


def test_a_recording_cut_short_is_partial_and_still_analysed() -> None:
    """Without run.ended the analysis says partial and still gives what it can."""
    events = [e for e in recording(Incident(complete=False)) if e["t"] < 30]
    analysis = analyse(events)
    assert analysis.partial and "lab process died" in analysis.ended_reason
    assert analysis.milestone("fault injected") is not None
    assert analysis.milestone("recovered") is None
    assert analysis.writes is None


def test_skew_statistics_cover_every_step() -> None:
    """Median, p99 and max of |actual - planned| over all step events."""
    skew = analyse(recording()).skew
    assert skew.steps == 5
    assert skew.max_s == pytest.approx(0.001)
