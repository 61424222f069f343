"""The scenario's time: the incident's minutes, the lab seconds each one plays in (`time.seconds_per_incident_minute`,
later parts at other paces with `time.pace`), and the lab seconds of normal traffic before and after it."""

from __future__ import annotations

import re

from pydantic import Field, model_validator

from lab.document import DocumentModel, FieldProblem, PositiveSeconds

CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_INCIDENT_MINUTES = 7 * 24 * 60
MAX_LAB_S = 24 * 60 * 60
"""The longest a replay may last at speed 1, as a drill may (`drill.max_duration_s`): a day. A bound is needed: a
time scale of 1e300 seconds per minute would otherwise pass with a 300-digit duration, and 1.7e308 an infinite
one."""


class PaceChange(DocumentModel):
    """From an incident minute on, the timeline plays at another pace."""

    at_minutes: float = Field(alias="at", strict=True, gt=0, le=MAX_INCIDENT_MINUTES,
                              description="The incident minute the new pace starts at.")
    seconds_per_incident_minute: PositiveSeconds = Field(le=MAX_LAB_S,
                                                         description="Lab seconds per incident minute from then on.")


class TimeSpec(DocumentModel):
    incident_start: str = Field("00:00", pattern=CLOCK.pattern,
                                description="The incident's wall clock at minute 0, e.g. \"14:00\".")
    seconds_per_incident_minute: PositiveSeconds = Field(1.0, le=MAX_LAB_S,
                                                         description="Lab seconds per incident minute.")
    pace: tuple[PaceChange, ...] = Field((), description=(
        "Later parts of the incident played at other paces, in order of `at`: a short fault in a long incident "
        "slow enough to be seen, its day of aftermath fast-forwarded."))
    steady_state_s: float = Field(10.0, strict=True, ge=3, le=3600, description=(
        "Lab seconds of normal traffic before minute 0: the baseline the impact is measured against."))
    tail_s: float = Field(10.0, strict=True, ge=0, le=3600,
                          description="Lab seconds observed after the last step (after it ended, if it ran "
                                      "late), to see the recovery.")

    @model_validator(mode="after")
    def _pace_in_order(self) -> TimeSpec:
        starts = [change.at_minutes for change in self.pace]
        if starts != sorted(set(starts)):
            raise FieldProblem("pace", f"must be in increasing order of `at`, got {[f'{m:g}' for m in starts]}")
        return self

    def lab_seconds(self, minutes: float) -> float:
        """Lab seconds from the incident's minute 0 to minute `minutes`, at the pace of each part."""
        total, since, scale = 0.0, 0.0, self.seconds_per_incident_minute
        for change in self.pace:
            if minutes <= change.at_minutes:
                break
            total += (change.at_minutes - since) * scale
            since, scale = change.at_minutes, change.seconds_per_incident_minute
        return total + (minutes - since) * scale

    def incident_minutes(self, seconds: float) -> float:
        """The incident minute `seconds` lab seconds after minute 0 (lab_seconds the other way round)."""
        spent, since, scale = 0.0, 0.0, self.seconds_per_incident_minute
        for change in self.pace:
            part = (change.at_minutes - since) * scale
            if seconds <= spent + part:
                break
            spent += part
            since, scale = change.at_minutes, change.seconds_per_incident_minute
        return since + (seconds - spent) / scale

    def faster(self, speed: float) -> TimeSpec:
        """Every pace `speed` times faster (steady state and tail stay as written)."""
        pace = tuple(change.model_copy(update={"seconds_per_incident_minute": change.seconds_per_incident_minute
                                               / speed}) for change in self.pace)
        return self.model_copy(update={"seconds_per_incident_minute": self.seconds_per_incident_minute / speed,
                                       "pace": pace})

    def slowest_minute_s(self) -> float:
        """The most lab seconds any incident minute plays in."""
        return max((self.seconds_per_incident_minute, *(change.seconds_per_incident_minute for change in self.pace)))


def clock_after(start: str, minutes: float) -> str:
    """The incident's wall clock (HH:MM) `minutes` after `start`."""
    hours, mins = (int(part) for part in start.split(":"))
    total = (hours * 60 + mins + round(minutes)) % (24 * 60)
    return f"{total // 60:02d}:{total % 60:02d}"
