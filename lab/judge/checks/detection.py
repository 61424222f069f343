"""detection: an alert fired soon enough after the fault; any alert, or the one the check names (a Prometheus rule
of the scenario's `observe.rules`, or one of its own `alerts:`)."""

from __future__ import annotations

from pydantic import Field

from lab.document import DocumentModel, PositiveSeconds
from lab.judge.alerts import first_fired
from lab.judge.checks.base import CheckKind, CheckResult, Judging

NAME = "alert fired after the fault"


class DetectionCheck(DocumentModel):
    within_s: PositiveSeconds
    alert: str | None = Field(None, min_length=1, description=(
        "The alert that must fire: a rule's `alert:` name in one of `observe.rules`' files, or the name of one of "
        "the scenario's `alerts:`. Without it, the first alert of any name counts."))


def judge(check: DetectionCheck, judging: Judging) -> list[CheckResult]:
    if check.alert is not None:
        return [_judge_named(check, check.alert, judging)]
    detect = next((i for i in judging.analysis.intervals if i.name == "detect"), None)
    if detect is None:
        return [CheckResult(NAME, False, "no alert fired after the fault")]
    return [CheckResult(NAME, detect.seconds <= check.within_s,
                        f"{detect.seconds:.1f} s after the fault (max {check.within_s:g} s)")]


def _judge_named(check: DetectionCheck, alert: str, judging: Judging) -> CheckResult:
    analysis = judging.analysis
    if analysis.fault_t is None:
        return CheckResult(NAME, False, f"alert `{alert}`: no fault was applied to time it from")
    fired = first_fired(analysis.alerts, alert, analysis.fault_t)
    if fired is None:
        return CheckResult(NAME, False, f"alert `{alert}` never fired: your rule would not have paged anyone")
    seconds = fired.fired_t - analysis.fault_t
    return CheckResult(NAME, seconds <= check.within_s,
                       f"alert `{alert}` fired {seconds:.1f} s after the fault (max {check.within_s:g} s)")


KIND = CheckKind[DetectionCheck](section="detection", config=DetectionCheck, judge=judge, order=50)
