"""error_cause: the errors of the fault window name the incident's cause, as the incident's logs did."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from lab.document import DocumentModel, Ratio
from lab.judge.checks.base import CheckKind, CheckResult, Judging


class ErrorCauseCheck(DocumentModel):
    """The errors of the fault window name the incident's cause: a share of them (the users' or the apps') say one
    of the given texts."""

    source: Literal["users", "app"] = Field(
        "app", description="users: the errors users got; app: the database errors the app replicas logged.")
    during: str | None = Field(None, min_length=1, description="Only the app errors logged while doing this "
                                                             "(connect, read_order, create_order, readyz).")
    contains: tuple[str, ...] = Field(min_length=1, description="Texts the errors say (any of them), e.g. "
                                                                "\"Name or service not known\".")
    min_share: Ratio = Field(0.9, description="At least this share of those errors say one of the texts.")

    @field_validator("contains", mode="before")
    @classmethod
    def _one_text_is_a_list(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value


def judge(check: ErrorCauseCheck, judging: Judging) -> list[CheckResult]:
    whose = "users'" if check.source == "users" else "the apps'"
    during = f" while doing {check.during}" if check.during else ""
    name = f"{whose} errors named the cause"
    considered = [tally for tally in judging.analysis.fault_errors if tally.source == check.source
                  and (check.during is None or tally.during == check.during)]
    total = sum(tally.count for tally in considered)
    said = " or ".join(repr(text) for text in check.contains)
    if total == 0:
        nothing = "no request failed" if check.source == "users" else "the apps logged no database error"
        return [CheckResult(name, False, f"{nothing}{during} during the fault")]
    saying = sum(tally.count for tally in considered if any(text in tally.text for text in check.contains))
    share = saying / total
    other = next((tally.text for tally in considered if not any(text in tally.text for text in check.contains)), "")
    detail = (f"{saying} of {total} errors{during} ({share:.0%}) said {said} (expected >= {check.min_share:.0%})"
              + (f"; most frequent other: {other[:160]!r}" if share < check.min_share and other else ""))
    return [CheckResult(name, share >= check.min_share, detail)]


KIND = CheckKind[ErrorCauseCheck](section="error_cause", config=ErrorCauseCheck, judge=judge, order=90)
