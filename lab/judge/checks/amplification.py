"""amplification: the load the users' retrying clients offered while the faults were in effect, against the load
they planned (lab.judge.amplification), stays within bounds: a retry storm shows above a bound, a measure that
tames it (backoff, jitter, a retry budget) below one."""

from __future__ import annotations

from pydantic import Field, model_validator

from lab.document import DocumentModel, FieldProblem
from lab.judge.checks.base import CheckKind, CheckResult, Judging

NAME = "retries' load during the fault"


class AmplificationCheck(DocumentModel):
    min_during_fault: float | None = Field(None, strict=True, ge=1, description=(
        "At least this many attempts per operation begun while a fault was in effect (a storm is seen)."))
    max_during_fault: float | None = Field(None, strict=True, ge=1, description=(
        "At most this many attempts per operation begun while a fault was in effect (the retries are tamed)."))

    @model_validator(mode="after")
    def _a_bound(self) -> AmplificationCheck:
        low, high = self.min_during_fault, self.max_during_fault
        if low is None and high is None:
            raise FieldProblem("max_during_fault", "give min_during_fault, max_during_fault or both")
        if low is not None and high is not None and low > high:
            raise FieldProblem("max_during_fault", f"must be at least min_during_fault ({low:g}), got {high:g}")
        return self


def judge(check: AmplificationCheck, judging: Judging) -> list[CheckResult]:
    during = judging.analysis.amplification.during_faults or {}
    figure = during.get("amplification")
    if not isinstance(figure, int | float):
        return [CheckResult(NAME, False, "no operation began while a fault was in effect")]
    low, high = check.min_during_fault, check.max_during_fault
    bounds = " and ".join(part for part in (f"at least {low:g}" if low is not None else "",
                                            f"at most {high:g}" if high is not None else "") if part)
    passed = (low is None or figure >= low) and (high is None or figure <= high)
    return [CheckResult(NAME, passed, f"{figure:.2f} attempts per operation ({during['attempts']} for "
                                      f"{during['operations']}; expected {bounds})")]


KIND = CheckKind[AmplificationCheck](section="amplification", config=AmplificationCheck, judge=judge, order=75)
