"""impact: the fault did what the incident's did to users: an error rate in a range, failures as slow or as fast as
the incident's, users affected for a share of the fault window."""

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
        None, description="At most this share of the fault window may have users affected (a second counts when "
                          "more than 5% of its requests failed or were slower than the recovery rule allows).")
    min_impact_share: Ratio | None = Field(
        None, description="At least this share of the fault window had users affected: the outage lasted as long "
                          "as the fault, not only while pools drained.")
    fault: str | None = Field(None, description="Judge this fault's window only (default: every fault's).")


def _window(analysis: Analysis, fault: str | None) -> WindowImpact | None:
    if fault is None:
        return analysis.fault
    return next((w.impact for w in analysis.faults if w.fault == fault), None)


def impact_result(analysis: Analysis, check: ImpactCheck) -> CheckResult:
    name = "impact observed during the fault" + (f" {check.fault}" if check.fault else "")
    window = _window(analysis, check.fault)
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


def judge(check: ImpactCheck, judging: Judging) -> list[CheckResult]:
    return [impact_result(judging.analysis, check)]


KIND = CheckKind[ImpactCheck](section="impact", config=ImpactCheck, judge=judge, order=30)
