"""load: the synthetic users' rate changes, at once or along a ramp: a launch, a marketing push, the thundering
herd of clients coming back after an outage. The generator stays open loop: from the next request on, requests
are planned at the new rate (lab.record.schedule), whatever the service does."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from lab.play.steps.base import StepBase
from lab.record.schema import TrafficChanged
from lab.scenario.timing import MAX_INCIDENT_MINUTES
from lab.scenario.traffic import MAX_RATE

if TYPE_CHECKING:
    from lab.play.stage import Stage


class LoadStep(StepBase):
    """The synthetic users' rate changes (a surge, a ramp, a lull)."""

    action: Literal["load"]
    order: ClassVar[int] = 15
    rate: float = Field(strict=True, gt=0, le=MAX_RATE, description="Requests per second from then on.")
    over_minutes: float = Field(0.0, alias="over", strict=True, ge=0, le=MAX_INCIDENT_MINUTES, description=(
        "Incident minutes the change takes, along a straight ramp from the rate before (0: at once); played at "
        "the scenario's pace and speed, as `at` is."))

    def perform(self, stage: Stage) -> str:
        ramp_s = stage.time.lab_seconds(self.at_minutes + self.over_minutes) - stage.time.lab_seconds(self.at_minutes)
        stage.users.change_rate(self.rate, ramp_s)
        stage.log.emit(TrafficChanged(rate=self.rate, ramp_s=round(ramp_s, 4)))
        how = f"over {ramp_s:.1f} s" if ramp_s > 0 else "at once"
        return self.text or f"synthetic users: {self.rate:g} requests per second, reached {how}"
