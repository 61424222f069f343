"""The scenario's checks judged on synthetic recordings: the documented incident passes, broken ones fail."""

from __future__ import annotations

from typing import Any

from lab.judge.analysis import analyse
from lab.judge.checks import ChecksBase, checks_of, evaluate
from lab.judge.checks.base import CheckResult
from lab.judge.checks.error_cause import ErrorCauseCheck
from lab.judge.checks.impact import ImpactCheck
from lab.judge.checks.in_rotation import InRotationCheck
from lab.judge.checks.recovery import KIND as RECOVERY
from lab.judge.requests import RecoveryCriteria
from lab.judge.verdict import recovery_criteria
from lab.scenario.reader import load
from lab.settings import PROJECT_ROOT

from .streams import Incident, event, recording

CHECKS = load(PROJECT_ROOT / "scenarios" / "db-network-misconfig.yaml").checks


def verdicts(incident: Incident) -> dict[str, bool]:
    return {result.name: result.passed for result in evaluate(analyse(recording(incident)), CHECKS)}


def test_the_documented_incident_passes_every_check() -> None:
    """Steady, a third failing slowly, alert, useless restart, quick recovery, no write lost: all pass."""
    assert all(verdicts(Incident()).values())


def test_a_fix_that_does_not_fix_fails_recovery_only() -> None:
    """The fault outlasting the runbook step by 25 s fails 'recovered after the fix' (limit 10 s)."""
    result = verdicts(Incident(fault_cleared_t=70.0))
    assert result.pop("recovered after the fix") is False
    assert all(result.values())


def test_no_fault_fails_the_impact_check() -> None:
    """Without the fault there is no impact: the check that proves the fault took effect fails."""
    result = verdicts(Incident(fault_t=None, alert_t=None))
    assert result["impact observed during the fault"] is False


def test_fast_failures_do_not_count_as_the_documented_impact() -> None:
    """The incident's failures were slow (connect timeout); instant errors fail the latency part of the check."""
    result = verdicts(Incident(failure_latency_s=0.01))
    assert result["impact observed during the fault"] is False


def test_missing_alert_fails_detection() -> None:
    """Monitoring fired at once in the incident: no alert fails detection."""
    assert verdicts(Incident(alert_t=None))["alert fired after the fault"] is False


def test_a_lost_write_fails_the_data_check() -> None:
    """One acknowledged write missing from the database fails 'no acknowledged write lost'."""
    assert verdicts(Incident(missing_writes=(42,)))["no acknowledged write lost"] is False


def test_a_partial_recording_cannot_pass_the_data_check() -> None:
    """A recording cut before the write verification fails that check, saying why."""
    results = evaluate(analyse(recording(Incident(complete=False))), CHECKS)
    data = next(r for r in results if r.name == "no acknowledged write lost")
    assert not data.passed and "not verified" in data.detail


def test_requests_the_fix_saves_do_not_count_as_the_restart_helping() -> None:
    """Played fast (--speed 10), the restart comes seconds before the fix, and app-2's requests that started in
    the last pool timeout before it were saved by the fix: only requests decided while the fault was in place
    judge the restart, so 'restart did not help' still passes."""
    result = verdicts(Incident(restart_t=38.0, rescued_s=3.0))
    assert result["restart did not help"] is True


def test_a_restart_too_close_to_the_fix_to_judge_says_so() -> None:
    """A restart that settles less than a failure's duration before the fix leaves no request decided while the
    fault was in place: the check fails naming the empty window, not claiming there was no restart."""
    results = {r.name: r for r in evaluate(analyse(recording(Incident(restart_t=40.0))), CHECKS)}
    restart = results["restart did not help"]
    assert not restart.passed
    assert restart.detail.startswith("no request to judge the restart by: between its settling and the fix")


def judged(events: list[dict[str, Any]], checks: ChecksBase,
           recovery: RecoveryCriteria | None = None) -> dict[str, CheckResult]:
    return {result.name: result for result in evaluate(analyse(events, recovery), checks)}


def with_db_errors(events: list[dict[str, Any]], messages: list[tuple[float, str, str]]) -> list[dict[str, Any]]:
    """The recording with app database errors (t, during, message) logged by app-2."""
    return events + [event("app.db_error", t, replica="app-2", error_class="psycopg.OperationalError",
                           message=message, during=during) for t, during, message in messages]


def test_the_errors_named_the_cause_when_enough_of_them_say_it() -> None:
    """Of app-2's failed connects during the fault, 9 in 10 say the name did not resolve: the check passes at 90%
    and fails at 95%; errors logged outside the fault window and while doing something else do not count."""
    dns = 'connection is bad: Name or service not known'
    messages = [(16.0 + i, "connect", dns) for i in range(9)] + [(30.0, "connect", "connection refused")]
    messages += [(5.0, "connect", "outside the window"), (31.0, "read_order", "couldn't get a connection")]
    events = with_db_errors(recording(), messages)
    cause = ErrorCauseCheck(source="app", during="connect", contains=("Name or service not known",),
                            min_share=0.9)
    result = judged(events, checks_of(error_cause=cause))["the apps' errors named the cause"]
    assert result.passed and "9 of 10 errors while doing connect (90%)" in result.detail
    stricter = cause.model_copy(update={"min_share": 0.95})
    result = judged(events, checks_of(error_cause=stricter))["the apps' errors named the cause"]
    assert not result.passed
    assert result.detail.endswith("most frequent other: 'psycopg.OperationalError: connection refused'")


def test_the_users_errors_can_name_the_cause_too() -> None:
    """The seed incident's users got pool timeouts: any of several texts may match; no failure at all fails."""
    cause = ErrorCauseCheck(source="users", contains=("timed out", "couldn't get a connection"), min_share=1.0)
    assert judged(recording(), checks_of(error_cause=cause))["users' errors named the cause"].passed
    quiet = judged(recording(Incident(fault_t=None, alert_t=None)), checks_of(error_cause=cause))
    assert not quiet["users' errors named the cause"].passed


def test_a_replica_the_load_balancer_kept_in_rotation_passes_one_it_took_out_fails() -> None:
    """The seed's app-2 fails a third of requests but keeps its share (the shallow check saw nothing); had the load
    balancer taken it out, app-1 and app-3 would have served everything and the check says which one went."""
    rotation = checks_of(in_rotation=InRotationCheck(min_share=0.2))
    kept = judged(recording(), rotation)["the load balancer kept every replica in rotation"]
    assert kept.passed and "app-2 33%" in kept.detail
    taken_out = [dict(e, replica="app-1") if e["kind"] == "request" and e["replica"] == "app-2" and e["t"] >= 17
                 else e for e in recording()]
    result = judged(taken_out, rotation)["the load balancer kept every replica in rotation"]
    assert not result.passed and result.detail.endswith("out of rotation: app-2")


def test_a_fault_impact_judges_only_its_own_window() -> None:
    """In an incident of two phases, each phase's bounds apply to its own fault's window only."""
    events = recording()
    apply_second = next(e for e in events if e["kind"] == "step" and e["action"] == "apply")
    events.append(dict(apply_second, t=30.0, index=6, fault="second-phase"))
    events.append(dict(apply_second, t=44.5, index=7, action="revert", fault="second-phase"))
    phases = (ImpactCheck(fault="db-drop", min_error_rate=0.3, max_error_rate=0.4),
              ImpactCheck(fault="second-phase", min_error_rate=0.3, max_error_rate=0.4))
    results = judged(events, checks_of(fault_impacts=phases))
    assert results["impact observed during the fault db-drop"].passed
    assert "expected 30%-40%" in results["impact observed during the fault second-phase"].detail


def test_users_affected_for_the_whole_window_or_the_impact_check_fails() -> None:
    """A third of requests failing throughout the fault affects users in every second of it (the bound 95% holds);
    failures that stop 10 s into a 30 s window affect 10 of the 27 s judged (the last failure's time before the
    fix is not), and the check says so."""
    whole = checks_of(impact=ImpactCheck(min_error_rate=0.05, min_impact_share=0.95))
    result = judged(recording(), whole)["impact observed during the fault"]
    assert result.passed and "expected >= 95%" in result.detail
    result = judged(recording(Incident(fault_cleared_t=25.0)), whole)["impact observed during the fault"]
    assert not result.passed and "users affected 37% of its seconds (expected >= 95%)" in result.detail


def slowed_before_the_fault(events: list[dict[str, Any]], replica: str, latency_s: float,
                            failed: int = 0) -> list[dict[str, Any]]:
    """The recording with `replica`'s answers before the fault (t < 15 s) taking `latency_s`, and the first
    `failed` requests of the others before the fault failing at once."""
    slowed = [dict(e, latency_s=latency_s) if e["kind"] == "request" and e["replica"] == replica and e["t"] < 15.0
              else e for e in events]
    others = [i for i, e in enumerate(slowed) if e["kind"] == "request" and e["replica"] != replica
              and 2.0 <= e["t"] < 15.0][:failed]
    for i in others:
        slowed[i] = dict(slowed[i], ok=False, status=503, latency_s=0.01, error="HTTP 503")
    return slowed


def steady_state(events: list[dict[str, Any]], checks: ChecksBase = CHECKS) -> CheckResult:
    scenario = load(PROJECT_ROOT / "scenarios" / "db-network-misconfig.yaml")
    return judged(events, checks, recovery_criteria(scenario))["steady state before the fault"]


def test_a_service_too_slow_before_the_fault_fails_the_steady_state_though_nothing_failed() -> None:
    """On a machine too busy for the rate, every answer may succeed and take seconds: by the rule that judges the
    recovery, a user waiting past its 1 s is not served, so about a third of the steady window (after its warm-up)
    failed. One replica answering in 0.9 s is slow but within the rule, and passes."""
    slow = steady_state(slowed_before_the_fault(recording(), "app-1", 1.5))
    assert not slow.passed
    assert slow.detail == ("error rate 31.5% over 254 requests: 0 failed, 80 answered slower than 1 s, which counts "
                           "as failed (max 1.0%); the service was already too slow before the fault (a busy machine, "
                           "or more --rate than this stack serves here)")
    within = steady_state(slowed_before_the_fault(recording(), "app-1", 0.9))
    assert within.passed and within.detail == "error rate 0.0% over 255 requests (max 1.0%)"


def test_a_steady_state_failing_on_its_errors_is_not_blamed_on_slowness() -> None:
    """15 errors in 260 requests fail the steady state by themselves: one slow answer besides is counted, but the
    check does not say the service was too slow."""
    events = slowed_before_the_fault(recording(), "app-1", 1.5, failed=15)
    events = [dict(e, latency_s=0.004) if e["kind"] == "request" and e["replica"] == "app-1" and e["t"] > 2.1
              else e for e in events]
    check = steady_state(events)
    assert not check.passed
    assert check.detail == "error rate 6.2% over 260 requests: 15 failed, 1 answered slower than 1 s, which counts " \
                           "as failed (max 1.0%)"


def test_the_steady_state_takes_its_latency_bound_from_the_scenarios_recovery_rule() -> None:
    """A scenario whose users are back when answered within 2 s holds its steady state to the same: 1.5 s passes."""
    scenario = load(PROJECT_ROOT / "scenarios" / "db-network-misconfig.yaml")
    recovery = scenario.checks.section(RECOVERY)
    assert recovery is not None
    lenient = scenario.checks.model_copy(update={"recovery": recovery.model_copy(update={"max_latency_s": 2.0})})
    criteria = recovery_criteria(scenario.model_copy(update={"checks": lenient}))
    results = judged(slowed_before_the_fault(recording(), "app-1", 1.5), lenient, criteria)
    assert results["steady state before the fault"].passed


def test_requests_still_waiting_when_the_fault_lands_do_not_judge_the_steady_state() -> None:
    """At 1,000 req/s a replica's brief stall leaves tens of requests queued when the fault lands, and they fail by
    its doing after the pool's 3 s: started less than the recovery's 1 s before the fault, they are not the steady
    state's errors (app-2's 5 of its last 0.8 s would be 2.0%, failing it). One that failed before the fault landed
    still counts."""
    caught = [dict(e, ok=False, status=503, latency_s=3.1, error="psycopg_pool.PoolTimeout: couldn't get a connection")
              if e["kind"] == "request" and e["replica"] == "app-2" and 14.2 <= e["t"] < 15.0 else e
              for e in recording()]
    steady = steady_state(caught)
    assert steady.passed and steady.detail == "error rate 0.0% over 255 requests (max 1.0%)"
    failed_before = [dict(e, latency_s=0.5) if e["kind"] == "request" and not e["ok"] and e["t"] < 14.5 else e
                     for e in caught]
    assert steady_state(failed_before).detail == "error rate 0.8% over 257 requests (max 1.0%)"


def test_requests_hanging_since_long_before_the_fault_still_judge_the_steady_state() -> None:
    """A request that had waited longer than the recovery's 1 s when the fault landed was not served whatever came
    after: one in 40 hanging to the client's 10 s timeout fails the steady state, though most of them ended after
    the fault."""
    hung = [dict(e, ok=False, status=None, latency_s=10.0, error="TimeoutError: no answer within 10 s")
            if e["kind"] == "request" and e["seq"] % 40 == 0 and 2.0 <= e["t"] < 14.0 else e for e in recording()]
    steady = steady_state(hung)
    assert not steady.passed and steady.detail == "error rate 2.3% over 260 requests (max 1.0%)"
