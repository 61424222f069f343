"""restart_ineffective: the restart tried during the fault did not help, as in the incident."""

from __future__ import annotations

from lab.document import DocumentModel, Ratio
from lab.judge.checks.base import CheckKind, CheckResult, Judging

NAME = "restart did not help"


class RestartIneffectiveCheck(DocumentModel):
    min_error_rate: Ratio


def judge(check: RestartIneffectiveCheck, judging: Judging) -> list[CheckResult]:
    window = judging.analysis.after_restart
    if window is None:
        return [CheckResult(NAME, False, "no restart step while the fault was in effect")]
    if window.overall.requests == 0:
        return [CheckResult(NAME, False, f"no request to judge the restart by: between its settling and the fix "
                                         f"({window.start:.1f}-{window.end:.1f} s) none was decided; a slower speed "
                                         "leaves more time")]
    rate = window.overall.error_rate
    detail = f"error rate after the restart still {rate:.1%} (expected >= {check.min_error_rate:.0%})"
    return [CheckResult(NAME, rate >= check.min_error_rate, detail)]


KIND = CheckKind[RestartIneffectiveCheck](section="restart_ineffective", config=RestartIneffectiveCheck, judge=judge,
                                          order=60)
