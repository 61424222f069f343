"""detection: an alert fired soon enough after the fault."""

from __future__ import annotations

from lab.document import DocumentModel, PositiveSeconds
from lab.judge.checks.base import CheckKind, CheckResult, Judging

NAME = "alert fired after the fault"


class DetectionCheck(DocumentModel):
    within_s: PositiveSeconds


def judge(check: DetectionCheck, judging: Judging) -> list[CheckResult]:
    detect = next((i for i in judging.analysis.intervals if i.name == "detect"), None)
    if detect is None:
        return [CheckResult(NAME, False, "no alert fired after the fault")]
    return [CheckResult(NAME, detect.seconds <= check.within_s,
                        f"{detect.seconds:.1f} s after the fault (max {check.within_s:g} s)")]


KIND = CheckKind[DetectionCheck](section="detection", config=DetectionCheck, judge=judge, order=50)
