"""recovery: users were back to steady state soon enough after the fix. Its rule (a window of requests failing at
most a share, a request slower than a latency counting as failed) is also what the analysis calls a recovery and
a slow answer."""

from __future__ import annotations

from lab.document import DocumentModel, PositiveSeconds, Ratio
from lab.judge.checks.base import CheckKind, CheckResult, Judging
from lab.judge.requests import RecoveryCriteria

NAME = "recovered after the fix"


class RecoveryCheck(DocumentModel):
    within_s: PositiveSeconds
    window_s: PositiveSeconds = 3.0
    max_error_rate: Ratio = 0.01
    max_latency_s: PositiveSeconds = 1.0

    def criteria(self) -> RecoveryCriteria:
        return RecoveryCriteria(self.window_s, self.max_error_rate, self.max_latency_s)


def judge(check: RecoveryCheck, judging: Judging) -> list[CheckResult]:
    analysis = judging.analysis
    recover = next((i for i in analysis.intervals if i.name == "recover"), None)
    if analysis.milestone("mitigation") is None:
        return [CheckResult(NAME, False, "the mitigation step was never reached")]
    if recover is None:
        return [CheckResult(NAME, False, f"no return to steady state after the fix (error rate <= "
                                         f"{check.max_error_rate:.0%} over {check.window_s:g} s, requests under "
                                         f"{check.max_latency_s:g} s)")]
    return [CheckResult(NAME, recover.seconds <= check.within_s,
                        f"{recover.seconds:.1f} s after the fix (max {check.within_s:g} s)")]


KIND = CheckKind[RecoveryCheck](section="recovery", config=RecoveryCheck, judge=judge, order=70)
