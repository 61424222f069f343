"""The scenario's checks, evaluated from the analysis of a recording."""

from __future__ import annotations

from dataclasses import dataclass

from lab.judge.analysis import LB, OUTSIDE, STILL_AT_CLEANUP, Analysis, WindowImpact
from lab.judge.lateness import describe
from lab.scenario.document import Checks, ErrorCauseCheck, ImpactCheck, RecoveryCheck

GENERATOR_KEPT_UP = "the load generator kept up"


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str
    of_recording: bool = False
    """Judges the recording itself, not the system: failing it makes the run unreliable rather than failed."""


def evaluate(analysis: Analysis, checks: Checks, max_lateness_p99_s: float | None = None) -> list[CheckResult]:
    """The scenario's checks, after the recording's own (given a lateness bound): did the generator keep up."""
    results: list[CheckResult] = []
    if max_lateness_p99_s is not None:
        results.append(generator_kept_up(analysis, max_lateness_p99_s))
    if checks.steady_state is not None:
        results.append(_steady_state(analysis, checks.steady_state.max_error_rate))
    if checks.impact is not None:
        results.append(_impact(analysis, checks.impact))
    results += [_impact(analysis, check) for check in checks.fault_impacts or ()]
    if checks.detection is not None:
        results.append(_detection(analysis, checks.detection.within_s))
    if checks.restart_ineffective is not None:
        results.append(_restart_ineffective(analysis, checks.restart_ineffective.min_error_rate))
    if checks.recovery is not None:
        results.append(_recovery(analysis, checks.recovery))
    if checks.fault_removed is not None:
        results.append(_fault_removed(analysis))
    if checks.error_cause is not None:
        results.append(_error_cause(analysis, checks.error_cause))
    if checks.in_rotation is not None:
        results.append(_in_rotation(analysis, checks.in_rotation.min_share))
    if analysis.faults:
        results.append(_fault_held(analysis))
    if checks.no_write_lost is not None:
        results.append(_no_write_lost(analysis))
    return results


def generator_kept_up(analysis: Analysis, max_p99_s: float) -> CheckResult:
    lateness = analysis.lateness
    if analysis.generator_failure is not None:  # its last requests are missing, whatever the lateness of the others
        return CheckResult(GENERATOR_KEPT_UP, False, analysis.generator_failure, of_recording=True)
    passed = lateness.requests > 0 and lateness.p99_s is not None and lateness.p99_s <= max_p99_s
    detail = f"start lateness {describe(lateness)} (p99 max {max_p99_s * 1000:g} ms)"
    if not passed and lateness.requests:
        detail += ": requests left late, so latencies and rates are not what users at this rate would see"
    return CheckResult(GENERATOR_KEPT_UP, passed, detail, of_recording=True)


def _steady_state(analysis: Analysis, max_rate: float) -> CheckResult:
    """Judged as the recovery is: a user still waiting past the recovery rule's latency is not served."""
    name = "steady state before the fault"
    if analysis.steady is None or analysis.steady.overall.requests == 0:
        return CheckResult(name, False, "no traffic recorded before the fault")
    overall = analysis.steady.overall
    if not overall.slow:
        return CheckResult(name, overall.error_rate <= max_rate,
                           f"error rate {overall.error_rate:.1%} over {overall.requests} requests (max {max_rate:.1%})")
    rate = (overall.errors + overall.slow) / overall.requests
    detail = (f"error rate {rate:.1%} over {overall.requests} requests: {overall.errors} failed, {overall.slow} "
              f"answered slower than {analysis.slow_s:g} s, which counts as failed (max {max_rate:.1%})")
    if overall.error_rate <= max_rate < rate:  # the slow answers alone made the difference
        detail += "; the service was already too slow before the fault (a busy machine, or more --rate than this " \
                  "stack serves here)"
    return CheckResult(name, rate <= max_rate, detail)


def _impact_window(analysis: Analysis, fault: str | None) -> WindowImpact | None:
    if fault is None:
        return analysis.fault
    return next((w.impact for w in analysis.faults if w.fault == fault), None)


def _impact(analysis: Analysis, check: ImpactCheck) -> CheckResult:
    name = "impact observed during the fault" + (f" {check.fault}" if check.fault else "")
    window = _impact_window(analysis, check.fault)
    if window is None or window.overall.requests == 0:
        return CheckResult(name, False, "the fault was never in effect (no fault window in the recording)")
    overall = window.overall
    low, high = check.min_error_rate, check.max_error_rate
    passed = low <= overall.error_rate <= high
    detail = f"error rate {overall.error_rate:.1%} (expected {low:.0%}-{high:.0%})"
    failure = overall.failure_p50_s
    shown = "none" if failure is None else f"{failure:.2f} s"
    if check.min_failure_latency_s is not None:
        passed = passed and failure is not None and failure >= check.min_failure_latency_s
        detail += f"; median failure took {shown} (expected >= {check.min_failure_latency_s:g} s: slow pages)"
    if (check.max_impact_share is not None or check.min_impact_share is not None) and check.fault is None:
        share = analysis.impact_share
        # No upper bound by default: impacted seconds are whole seconds, so the share may pass 100% by one.
        passed = (passed and share is not None and share >= (check.min_impact_share or 0.0)
                  and (check.max_impact_share is None or share <= check.max_impact_share))
        bounds = " and ".join(f"{sign} {bound:.0%}" for sign, bound in
                              ((">=", check.min_impact_share), ("<=", check.max_impact_share)) if bound is not None)
        detail += (f"; users affected {analysis.impacted_s:.0f} s of the fault window ({share:.0%}, expected "
                   f"{bounds})" if share is not None else "; no fault window")
    if check.max_failure_latency_s is not None:
        passed = passed and failure is not None and failure <= check.max_failure_latency_s
        detail += f"; median failure took {shown} (expected <= {check.max_failure_latency_s:g} s: failing fast)"
    return CheckResult(name, passed, detail)


def _detection(analysis: Analysis, within_s: float) -> CheckResult:
    name = "alert fired after the fault"
    detect = next((i for i in analysis.intervals if i.name == "detect"), None)
    if detect is None:
        return CheckResult(name, False, "no alert fired after the fault")
    return CheckResult(name, detect.seconds <= within_s, f"{detect.seconds:.1f} s after the fault (max {within_s:g} s)")


def _restart_ineffective(analysis: Analysis, min_rate: float) -> CheckResult:
    name = "restart did not help"
    if analysis.after_restart is None:
        return CheckResult(name, False, "no restart step while the fault was in effect")
    if analysis.after_restart.overall.requests == 0:
        window = analysis.after_restart
        return CheckResult(name, False, f"no request to judge the restart by: between its settling and the fix "
                                        f"({window.start:.1f}-{window.end:.1f} s) none was decided; a slower speed "
                                        "leaves more time")
    rate = analysis.after_restart.overall.error_rate
    detail = f"error rate after the restart still {rate:.1%} (expected >= {min_rate:.0%})"
    return CheckResult(name, rate >= min_rate, detail)


def _recovery(analysis: Analysis, check: RecoveryCheck) -> CheckResult:
    name = "recovered after the fix"
    recover = next((i for i in analysis.intervals if i.name == "recover"), None)
    if analysis.milestone("mitigation") is None:
        return CheckResult(name, False, "the mitigation step was never reached")
    if recover is None:
        return CheckResult(name, False, f"no return to steady state after the fix (error rate <= "
                                        f"{check.max_error_rate:.0%} over {check.window_s:g} s, "
                                        f"requests under {check.max_latency_s:g} s)")
    return CheckResult(name, recover.seconds <= check.within_s,
                       f"{recover.seconds:.1f} s after the fix (max {check.within_s:g} s)")


def _fault_removed(analysis: Analysis) -> CheckResult:
    """The faults the timeline does not revert itself must have been removed by a responder's step."""
    name = "the runbook removed the fault"
    left = [w for w in analysis.faults if not w.ended_by.startswith(("revert step", "runbook step", "restart step"))]
    if not analysis.faults:
        return CheckResult(name, False, "no fault was applied")
    if not left:
        removed = [f"{w.fault} by {w.ended_by} (t={w.end:.1f} s)" for w in analysis.faults
                   if not w.ended_by.startswith("revert step")]
        return CheckResult(name, True, "removed: " + ("; ".join(removed) or "every fault by the timeline"))
    last_runbook = next((s for s in reversed(analysis.steps) if s["action"] == "runbook"), None)
    said = f" (last runbook step: {last_runbook['detail']})" if last_runbook else " (no runbook step ran)"
    return CheckResult(name, False, "; ".join(f"fault {w.fault} {_how_it_ended(w.ended_by, w.end)}" for w in left)
                       + said)


def _error_cause(analysis: Analysis, check: ErrorCauseCheck) -> CheckResult:
    whose = "users'" if check.source == "users" else "the apps'"
    during = f" while doing {check.during}" if check.during else ""
    name = f"{whose} errors named the cause"
    considered = [tally for tally in analysis.fault_errors if tally.source == check.source
                  and (check.during is None or tally.during == check.during)]
    total = sum(tally.count for tally in considered)
    said = " or ".join(repr(text) for text in check.contains)
    if total == 0:
        nothing = "no request failed" if check.source == "users" else "the apps logged no database error"
        return CheckResult(name, False, f"{nothing}{during} during the fault")
    saying = sum(tally.count for tally in considered if any(text in tally.text for text in check.contains))
    share = saying / total
    other = next((tally.text for tally in considered if not any(text in tally.text for text in check.contains)), "")
    detail = (f"{saying} of {total} errors{during} ({share:.0%}) said {said} (expected >= {check.min_share:.0%})"
              + (f"; most frequent other: {other[:160]!r}" if share < check.min_share and other else ""))
    return CheckResult(name, share >= check.min_share, detail)


def _in_rotation(analysis: Analysis, min_share: float) -> CheckResult:
    name = "the load balancer kept every replica in rotation"
    if analysis.steady is None or analysis.fault is None or analysis.fault.overall.requests == 0:
        return CheckResult(name, False, "no steady state and fault window to compare")
    replicas = sorted(name for name in analysis.steady.per_replica if name != LB)
    total = analysis.fault.overall.requests
    shares = {replica: (analysis.fault.per_replica[replica].requests if replica in analysis.fault.per_replica
                        else 0) / total for replica in replicas}
    low = [replica for replica, share in shares.items() if share < min_share]
    detail = (", ".join(f"{replica} {share:.0%}" for replica, share in shares.items())
              + f" of the requests during the fault (expected each >= {min_share:.0%})")
    return CheckResult(name, bool(replicas) and not low, detail + (f"; out of rotation: {', '.join(low)}" if low
                                                                   else ""))


def _fault_held(analysis: Analysis) -> CheckResult:
    """A fault that went while nothing of the scenario acted makes the replay something else than the incident."""
    name = "each fault held until the scenario removed it"
    outside = [w for w in analysis.faults if w.ended_by == OUTSIDE]
    if outside:
        return CheckResult(name, False, "; ".join(f"fault {w.fault} was removed from outside at t={w.end:.1f} s "
                                                 "(by nothing the scenario did)" for w in outside))
    return CheckResult(name, True, "; ".join(f"{w.fault}: until {w.ended_by} at t={w.end:.1f} s"
                                             for w in analysis.faults))


def _how_it_ended(ended_by: str, t: float) -> str:
    if ended_by == STILL_AT_CLEANUP:
        return "was still in effect at cleanup: the runbook did not remove it"
    if ended_by == OUTSIDE:
        return f"was removed from outside at t={t:.1f} s, not by the runbook"
    return f"lasted until the {ended_by}: nothing removed it"


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
