"""What every timeline step is: when it happens (incident minute, wall clock), what it says, which milestone it marks,
and how it is performed on the stage of a run (the stack, its faults, the runbook runner, the recording).

A step kind is one module of this package defining a StepBase subclass whose `action` is a Literal: the scenario's
timeline accepts it by that action, and the runner performs it (`perform`, with `prepare` ahead of its offset for
work that need not happen on time)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, PrivateAttr

from lab.document import DocumentModel
from lab.scenario.timing import MAX_INCIDENT_MINUTES

if TYPE_CHECKING:
    from lab.play.stage import Stage

Milestone = Literal["investigating", "identified", "mitigation", "resolved"]


class StepFailed(Exception):
    """A step did not do what it should (a runbook command exited non-zero): recorded, and the run goes on."""


class StepBase(DocumentModel):
    action: str
    at_minutes: float = Field(alias="at", strict=True, ge=0, le=MAX_INCIDENT_MINUTES,
                              description="Incident minute of the step.")
    clock: str = Field("", pattern=r"^(([01]\d|2[0-3]):([0-5]\d))?$",
                       description="The incident's wall clock at this step (checked against incident_start + at).")
    text: str = Field("", description="What happened, in the incident's words.")
    milestone: Milestone | None = Field(None, description="Marks the incident milestone this step is.")
    _index: int = PrivateAttr(0)

    order: ClassVar[int] = 0
    """Where the kind stands among the others (in `lab schema`, and in the actions an error lists)."""
    in_runbook: ClassVar[bool] = False
    """Whether a runbook file (`lab run --runbook FILE`) may hold it: the responders' steps, not the incident's."""

    @property
    def index(self) -> int:
        return self._index

    @property
    def fault(self) -> str | None:
        return None

    @property
    def service(self) -> str | None:
        return None

    @property
    def command(self) -> tuple[str, ...]:
        return ()

    def overrun_s(self) -> float:
        """How much later than planned the steps after it may run because of it (its timeout, say)."""
        return 0.0

    def prepare(self, stage: Stage, seconds_until_due: float) -> None:
        """Work done ahead of the step's offset, so that at the offset only the last move remains."""

    def perform(self, stage: Stage) -> str:
        """Do the step; returns what happened. Raises FaultError when a fault cannot be put in place (the run ends),
        StepFailed when a responder's step failed (the run goes on)."""
        return self.text


class FaultStep(StepBase):
    """A step about one of the scenario's faults."""

    fault_id: str = Field(alias="fault", description="The id of a fault declared under `faults`.")

    @property
    def fault(self) -> str | None:
        return self.fault_id
