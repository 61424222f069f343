"""revert: the lab removes the fault, as the incident's fix did (a scenario whose fix is the responders' own has a
runbook step instead)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from lab.play.steps.base import FaultStep

if TYPE_CHECKING:
    from lab.play.stage import Stage


class RevertStep(FaultStep):
    """The lab removes the fault (the incident's fix, played by the lab)."""

    action: Literal["revert"]
    order: ClassVar[int] = 30

    def perform(self, stage: Stage) -> str:
        return stage.faults.revert(self.fault_id)
