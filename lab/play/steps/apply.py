"""apply: the fault lands. Its helpers are started armed ahead of the offset; at the offset it is applied, verified
and watched from then on."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from lab.play.steps.base import FaultStep

if TYPE_CHECKING:
    from lab.play.stage import Stage


class ApplyStep(FaultStep):
    """The fault lands."""

    action: Literal["apply"]
    order: ClassVar[int] = 20

    def prepare(self, stage: Stage, seconds_until_due: float) -> None:
        stage.faults.prepare(self.fault_id, seconds_until_due)

    def perform(self, stage: Stage) -> str:
        return stage.faults.apply(self.fault_id)
