"""A scenario's `drill:` section: when its fault may land in a drill, how long a trainee has, the hints, and which
faults a drill draws from."""

from __future__ import annotations

from pydantic import Field, model_validator

from lab.document import DocumentModel, FieldProblem, Seconds
from lab.scenario.timing import MAX_LAB_S


class Hint(DocumentModel):
    after_s: Seconds | None = Field(None, description="Released by itself this long after the fault; "
                                                      "None: only on request.")
    text: str = Field(min_length=1)


class DrillSpec(DocumentModel):
    inject_after_s: tuple[Seconds, Seconds] = Field(
        (20.0, 60.0), description="The fault lands at a moment in this window (seconds after traffic starts).")
    max_duration_s: float = Field(1800.0, strict=True, gt=0, le=MAX_LAB_S)
    hints: tuple[Hint, ...] = ()
    faults: tuple[str, ...] = Field((), description="Faults a drill draws from (default: every declared fault).")

    @model_validator(mode="after")
    def _window_in_order(self) -> DrillSpec:
        if self.inject_after_s[0] > self.inject_after_s[1]:
            raise FieldProblem("inject_after_s", f"must be [earliest, latest] with earliest <= latest, got "
                                                 f"{list(self.inject_after_s)}")
        return self
