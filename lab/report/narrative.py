"""The postmortem's prose parts, each figure taken from the recording (none invented)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lab.scenario import Scenario


@dataclass
class PostmortemContext:
    """Figures and sentences for postmortem.md; `incident_minutes` converts lab seconds back to the incident."""

    seconds_per_minute: float
    timeline: list[dict[str, Any]] = field(default_factory=list)
    went_well: list[str] = field(default_factory=list)
    went_badly: list[str] = field(default_factory=list)

    def incident_minutes(self, seconds: float | None) -> str:
        if seconds is None:
            return "n/a"
        return f"{seconds / self.seconds_per_minute:.0f} incident min"


def postmortem_context(summary: dict[str, Any], scenario: Scenario) -> PostmortemContext:
    context = PostmortemContext(seconds_per_minute=summary["seconds_per_incident_minute"])
    minute_zero = scenario.time.steady_state_s
    for milestone in summary["milestones"]:
        context.timeline.append({
            "clock": milestone.get("clock") or _clock_at(scenario, milestone["t"] - minute_zero, context),
            "t": milestone["t"], "name": milestone["name"], "detail": milestone.get("detail", ""),
        })
    intervals = {i["name"]: i["seconds"] for i in summary["intervals"]}
    for check in summary["checks"]:
        (context.went_well if check["passed"] else context.went_badly).append(f"{check['name']}: {check['detail']}")
    if "detect" in intervals:
        context.went_well.append(f"Monitoring alerted {intervals['detect']:.1f} s after the fault "
                                 f"({context.incident_minutes(intervals['detect'])}).")
    if "identify" in intervals:
        context.went_badly.append(f"The cause was identified only {intervals['identify']:.1f} s after the fault "
                                  f"({context.incident_minutes(intervals['identify'])}).")
    restart = summary.get("after_restart")
    if restart and restart["overall"]["requests"]:
        context.went_badly.append(f"The database restart changed nothing: the error rate after it was still "
                                  f"{restart['overall']['error_rate']:.1%}.")
    return context


def _clock_at(scenario: Scenario, seconds_after_fault: float, context: PostmortemContext) -> str:
    """Incident wall clock (approximate: "~") of an offset counted from the incident's minute 0."""
    if seconds_after_fault < 0:
        return "before"
    hours, minutes = (int(part) for part in scenario.time.incident_start.split(":"))
    total = hours * 60 + minutes + round(seconds_after_fault / context.seconds_per_minute)
    return f"~{total // 60 % 24:02d}:{total % 60:02d}"
