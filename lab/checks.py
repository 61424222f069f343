"""The scenario's checks, evaluated from the analysis of a recording."""

from __future__ import annotations

from dataclasses import dataclass

from lab.scenario import Checks
from lab.timeline import Analysis


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str


def evaluate(analysis: Analysis, checks: Checks) -> list[CheckResult]:
    results: list[CheckResult] = []
    if checks.steady_max_error_rate is not None:
        results.append(_steady_state(analysis, checks.steady_max_error_rate))
    if checks.impact_min_error_rate is not None:
        results.append(_impact(analysis, checks))
    if checks.detect_within_s is not None:
        results.append(_detection(analysis, checks.detect_within_s))
    if checks.restart_ineffective_min_error_rate is not None:
        results.append(_restart_ineffective(analysis, checks.restart_ineffective_min_error_rate))
    if checks.recovery_within_s is not None:
        results.append(_recovery(analysis, checks))
    if checks.no_write_lost:
        results.append(_no_write_lost(analysis))
    return results


def _steady_state(analysis: Analysis, max_rate: float) -> CheckResult:
    name = "steady state before the fault"
    if analysis.steady is None or analysis.steady.overall.requests == 0:
        return CheckResult(name, False, "no traffic recorded before the fault")
    rate = analysis.steady.overall.error_rate
    return CheckResult(name, rate <= max_rate,
                       f"error rate {rate:.1%} over {analysis.steady.overall.requests} requests (max {max_rate:.1%})")


def _impact(analysis: Analysis, checks: Checks) -> CheckResult:
    name = "impact observed during the fault"
    if analysis.fault is None or analysis.fault.overall.requests == 0:
        return CheckResult(name, False, "the fault was never in effect (no fault window in the recording)")
    overall = analysis.fault.overall
    low, high = checks.impact_min_error_rate or 0.0, checks.impact_max_error_rate or 1.0
    passed = low <= overall.error_rate <= high
    detail = f"error rate {overall.error_rate:.1%} (expected {low:.0%}-{high:.0%})"
    if checks.impact_min_failure_latency_s is not None:
        slow = overall.failure_p50_s is not None and overall.failure_p50_s >= checks.impact_min_failure_latency_s
        passed = passed and slow
        shown = "none" if overall.failure_p50_s is None else f"{overall.failure_p50_s:.2f} s"
        detail += f"; median failure took {shown} (expected >= {checks.impact_min_failure_latency_s:g} s: slow pages)"
    return CheckResult(name, passed, detail)


def _detection(analysis: Analysis, within_s: float) -> CheckResult:
    name = "alert fired after the fault"
    detect = next((i for i in analysis.intervals if i.name == "detect"), None)
    if detect is None:
        return CheckResult(name, False, "no alert fired after the fault")
    return CheckResult(name, detect.seconds <= within_s, f"{detect.seconds:.1f} s after the fault (max {within_s:g} s)")


def _restart_ineffective(analysis: Analysis, min_rate: float) -> CheckResult:
    name = "restart did not help"
    if analysis.after_restart is None or analysis.after_restart.overall.requests == 0:
        return CheckResult(name, False, "no restart step while the fault was in effect")
    rate = analysis.after_restart.overall.error_rate
    detail = f"error rate after the restart still {rate:.1%} (expected >= {min_rate:.0%})"
    return CheckResult(name, rate >= min_rate, detail)


def _recovery(analysis: Analysis, checks: Checks) -> CheckResult:
    name = "recovered after the fix"
    within = checks.recovery_within_s or 0.0
    recover = next((i for i in analysis.intervals if i.name == "recover"), None)
    if analysis.milestone("mitigation") is None:
        return CheckResult(name, False, "the mitigation step was never reached")
    if recover is None:
        return CheckResult(name, False, f"no return to steady state after the fix (error rate <= "
                                        f"{checks.recovery_max_error_rate:.0%} over {checks.recovery_window_s:g} s, "
                                        f"requests under {checks.recovery_max_latency_s:g} s)")
    return CheckResult(name, recover.seconds <= within, f"{recover.seconds:.1f} s after the fix (max {within:g} s)")


def _no_write_lost(analysis: Analysis) -> CheckResult:
    name = "no acknowledged write lost"
    writes = analysis.writes
    if writes is None:
        return CheckResult(name, False, "acknowledged writes were not verified (recording partial?)")
    if writes.get("error"):
        return CheckResult(name, False, f"could not verify: {writes['error']}")
    missing = writes.get("missing", [])
    return CheckResult(name, not missing and writes.get("acknowledged", 0) > 0,
                       f"{writes.get('found')} of {writes.get('acknowledged')} acknowledged writes in the database"
                       + (f"; missing ids {missing[:10]}" if missing else ""))
