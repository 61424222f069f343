"""steady_state: before the fault, users were served, as the recovery judges them: a user still waiting past the
recovery rule's latency is not served."""

from __future__ import annotations

from pydantic import Field

from lab.document import DocumentModel, Ratio
from lab.judge.checks.base import CheckKind, CheckResult, Judging

NAME = "steady state before the fault"


class SteadyStateCheck(DocumentModel):
    max_error_rate: Ratio = Field(
        0.01, description="At most this share of the requests before the fault fail; one answered slower than the "
                          "recovery rule's max_latency_s counts as failed, as it does for the recovery.")


def judge(check: SteadyStateCheck, judging: Judging) -> list[CheckResult]:
    analysis, max_rate = judging.analysis, check.max_error_rate
    if analysis.steady is None or analysis.steady.overall.requests == 0:
        return [CheckResult(NAME, False, "no traffic recorded before the fault")]
    overall = analysis.steady.overall
    if not overall.slow:
        return [CheckResult(NAME, overall.error_rate <= max_rate, f"error rate {overall.error_rate:.1%} over "
                                                                   f"{overall.requests} requests (max {max_rate:.1%})")]
    rate = (overall.errors + overall.slow) / overall.requests
    detail = (f"error rate {rate:.1%} over {overall.requests} requests: {overall.errors} failed, {overall.slow} "
              f"answered slower than {analysis.slow_s:g} s, which counts as failed (max {max_rate:.1%})")
    if overall.error_rate <= max_rate < rate:  # the slow answers alone made the difference
        detail += "; the service was already too slow before the fault (a busy machine, or more --rate than this " \
                  "stack serves here)"
    return [CheckResult(NAME, rate <= max_rate, detail)]


KIND = CheckKind[SteadyStateCheck](section="steady_state", config=SteadyStateCheck, judge=judge, order=20)
