"""The scenario's checks judged on synthetic recordings: the documented incident passes, broken ones fail."""

from __future__ import annotations

from lab.checks import evaluate
from lab.scenario import load
from lab.settings import PROJECT_ROOT
from lab.timeline import analyse

from .streams import Incident, recording

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
