"""impact: the fault did what the incident's did to users: an error rate in a range, failures as slow or as fast as
the incident's, users affected for a share of the fault window or for at most so many seconds.

Judged on the settled fault window (lab.judge.windows.SettledImpact): from the moment the fault had reached every
request to a typical failure's time before it went (the requests started later had their outcome decided by the
fix). The seconds a stack needs to show a fault (connections renewed, pools timing out) and a fix needs to save the
requests waiting do not shrink with --speed: judging the whole window would let them dilute the impact more the
faster the scenario plays. `max_impacted_s` judges the whole window in seconds, which do not depend on the speed
either."""

from __future__ import annotations

from pydantic import Field

from lab.document import DocumentModel, Ratio, Seconds
from lab.judge.analysis import Analysis
from lab.judge.checks.base import CheckKind, CheckResult, Judging
from lab.judge.windows import WindowImpact


class ImpactCheck(DocumentModel):
    min_error_rate: Ratio
    max_error_rate: Ratio = 1.0
    min_failure_latency_s: Seconds | None = Field(None, description="Failures must be this slow (slow pages).")
    max_failure_latency_s: Seconds | None = Field(None, description="Failures must be this fast (fail fast).")
    max_impact_share: Ratio | None = Field(
        None, description="At most this share of the settled fault window may have users affected (a second counts "
                          "when more than 5% of its requests failed or were slower than the recovery rule allows).")
    min_impact_share: Ratio | None = Field(
        None, description="At least this share of the settled fault window had users affected: the outage lasted as "
                          "long as the fault, not only while pools drained.")
    max_impacted_s: Seconds | None = Field(
        None, description="At most this many seconds of the whole fault window may have users affected: what a "
                          "corrective measure that contains the fault within seconds is judged by, at any speed.")
    settle_s: Seconds | None = Field(
        None, le=3600, description="Judge the requests started this long after the fault's apply and later (default: "
                                   "the time the built-in stack needs to show the fault to every request, e.g. a "
                                   "DNS fault's until the pools renew their connections; 0 on a team's stack). "
                                   "Part of the fault's lab time: the scenario's largest speed keeps room for it.")
    fault: str | None = Field(None, description="Judge this fault's window only (default: every fault's).")


def _window(analysis: Analysis, fault: str | None) -> tuple[WindowImpact | None, float]:
    """The settled window judged, and its settle time."""
    if fault is None:
        settled = analysis.settled
        settle_s = max((w.settle_s for w in analysis.faults), default=0.0)
        return (settled.impact if settled else None), settle_s
    window = next((w for w in analysis.faults if w.fault == fault), None)
    return (window.settled if window else None), (window.settle_s if window else 0.0)


def impact_result(analysis: Analysis, check: ImpactCheck) -> CheckResult:
    name = "impact observed during the fault" + (f" {check.fault}" if check.fault else "")
    window, settle_s = _window(analysis, check.fault)
    if not analysis.faults or (check.fault and not any(w.fault == check.fault for w in analysis.faults)):
        return CheckResult(name, False, "the fault was never in effect (no fault window in the recording)")
    if window is None or window.overall.requests == 0:
        return CheckResult(name, False, f"no request to judge: the fault went before {settle_s:g} s, the time it "
                                        f"needs to reach every request, or before any request it met had ended")
    overall = window.overall
    low, high = check.min_error_rate, check.max_error_rate
    passed = low <= overall.error_rate <= high
    detail = f"error rate {overall.error_rate:.1%} of {overall.requests} requests (expected {low:.0%}-{high:.0%})"
    failure = overall.failure_p50_s
    shown = "none" if failure is None else f"{failure:.2f} s"
    if check.min_failure_latency_s is not None:
        passed = passed and failure is not None and failure >= check.min_failure_latency_s
        detail += f"; median failure took {shown} (expected >= {check.min_failure_latency_s:g} s: slow pages)"
    if (check.max_impact_share is not None or check.min_impact_share is not None) and check.fault is None:
        share = analysis.settled.share if analysis.settled else None
        passed = (passed and share is not None and share >= (check.min_impact_share or 0.0)
                  and (check.max_impact_share is None or share <= check.max_impact_share))
        bounds = " and ".join(f"{sign} {bound:.0%}" for sign, bound in
                              ((">=", check.min_impact_share), ("<=", check.max_impact_share)) if bound is not None)
        detail += (f"; users affected {share:.0%} of its seconds (expected {bounds})" if share is not None
                   else "; no second of it to judge")
    if check.max_impacted_s is not None and check.fault is None:
        impacted = analysis.impacted_s
        passed = passed and impacted is not None and impacted <= check.max_impacted_s
        detail += f"; users affected {impacted or 0:.0f} s of the fault window (expected <= {check.max_impacted_s:g} s)"
    if check.max_failure_latency_s is not None:
        passed = passed and failure is not None and failure <= check.max_failure_latency_s
        detail += f"; median failure took {shown} (expected <= {check.max_failure_latency_s:g} s: failing fast)"
    if settle_s > 0:
        detail += f"; judged from {settle_s:g} s after the apply, when the fault had reached every request"
    return CheckResult(name, passed, detail)


def judge(check: ImpactCheck, judging: Judging) -> list[CheckResult]:
    return [impact_result(judging.analysis, check)]


KIND = CheckKind[ImpactCheck](section="impact", config=ImpactCheck, judge=judge, order=30)
