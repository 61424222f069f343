"""apply: the fault lands. Its helpers are started armed ahead of the offset; at the offset it is applied, verified
and watched from then on."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from lab.play.steps.base import StepBase

if TYPE_CHECKING:
    from lab.play.stage import Stage


class ApplyStep(StepBase):
    """The fault lands."""

    action: Literal["apply"]
    order: ClassVar[int] = 20
    fault_id: str = Field(alias="fault", description="The id of a fault declared under `faults`.")

    @property
    def fault(self) -> str | None:
        return self.fault_id

    def prepare(self, stage: Stage, seconds_until_due: float) -> None:
        stage.faults.prepare(self.fault_id, seconds_until_due)

    def perform(self, stage: Stage) -> str:
        return stage.faults.apply(self.fault_id)
