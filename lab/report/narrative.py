"""The postmortem's prose parts, each figure taken from the recording (none invented)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.report.runs import latest_run
from lab.scenario.document import Scenario


@dataclass
class PostmortemContext:
    """Figures and sentences for postmortem.md; `incident_minutes` converts lab seconds back to the incident."""

    minutes_at: Callable[[float], float]
    """Incident minutes of lab seconds counted from minute 0 (the scenario's pace, speed included)."""
    timeline: list[dict[str, Any]] = field(default_factory=list)
    went_well: list[str] = field(default_factory=list)
    went_badly: list[str] = field(default_factory=list)

    def incident_minutes(self, seconds: float | None) -> str:
        if seconds is None:
            return "n/a"
        return f"{self.minutes_at(seconds):.0f} incident min"


def impact_words(summary: dict[str, Any]) -> str:
    """"error rate 1.2% during the fault, users affected 3 s (3% of it)" from a summary."""
    fault = summary.get("fault") or {}
    rate = (fault.get("overall") or {}).get("error_rate")
    words = [f"error rate {rate:.1%} during the fault" if rate is not None else "no fault window"]
    if summary.get("impacted_s") is not None and summary.get("impact_share") is not None:
        words.append(f"users affected {summary['impacted_s']:.0f} s ({summary['impact_share']:.0%} of it)")
    return ", ".join(words)


def measure_proofs(run_dir: Path, summary: dict[str, Any], scenario: Scenario) -> dict[str, str]:
    """Corrective measure -> what a variant run showed, with figures: this run's, if it is the variant, beside
    the newest run without it in the same runs folder; or, for a run without, the newest run of each variant."""
    proofs: dict[str, str] = {}
    variant = summary.get("variant")
    if variant:
        against = " (no run without it in this folder to compare with)"
        base = latest_run(run_dir.parent, scenario.name, None)
        if base:
            base_dir, base_summary = base
            against = f", against {impact_words(base_summary)} without it (run {base_dir.name})"
        proofs[str(summary.get("measure"))] = f"tested by this run (variant {variant}): {impact_words(summary)}" + \
            against
        return proofs
    for tested in scenario.variants:
        found = latest_run(run_dir.parent, scenario.name, tested.name)
        if found:
            found_dir, other = found
            proofs[tested.measure] = (f"tested by variant {tested.name} (run {found_dir.name}, {other['verdict']}): "
                                      f"{impact_words(other)}, against {impact_words(summary)} in this run")
    return proofs


def postmortem_context(summary: dict[str, Any], scenario: Scenario) -> PostmortemContext:
    context = PostmortemContext(minutes_at=scenario.time.incident_minutes)
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
    total = hours * 60 + minutes + round(context.minutes_at(seconds_after_fault))
    return f"~{total // 60 % 24:02d}:{total % 60:02d}"
