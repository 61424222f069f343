"""The drill's debrief: the trainee's times against the original incident's, from the events alone."""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.record.events import Event
from lab.scenario.document import Scenario


@dataclass(frozen=True)
class Debrief:
    outcome: str
    """fixed, gave up, timed out, ended by the facilitator (a game day), interrupted or aborted (the Docker engine
    went away)."""
    fault_t: float | None
    acknowledged_s: float | None
    identified_s: float | None
    mitigated_s: float | None
    recovered_s: float | None
    """Each counted from the moment the fault landed."""
    hints_used: int
    mitigations_tried: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    original_identified_min: float | None = None
    original_mitigated_min: float | None = None


def original_minutes(scenario: Scenario) -> tuple[float | None, float | None]:
    """Minutes from the fault to the cause being identified and to the mitigation, in the incident itself."""
    applied = next((s.at_minutes for s in scenario.timeline if s.action == "apply"), None)
    found = {s.milestone: s.at_minutes for s in scenario.timeline if s.milestone}
    if applied is None:
        return None, None
    identified, mitigated = found.get("identified"), found.get("mitigation")
    return (None if identified is None else identified - applied,
            None if mitigated is None else mitigated - applied)


def debrief(events: list[Event], scenario: Scenario) -> Debrief:
    ordered = sorted(events, key=lambda e: e["t"])
    fault = next((e for e in ordered if e["kind"] == "fault.applied"), None)
    fault_t = fault["t"] if fault else None
    target = fault.get("target") if fault else None

    def first(predicate: object) -> float | None:
        if fault_t is None:
            return None
        found = next((e for e in ordered if e["t"] >= fault_t and predicate(e)), None)  # type: ignore[operator]
        return None if found is None else round(found["t"] - fault_t, 3)

    mitigated_s = first(lambda e: e["kind"] == "drill.fixed")
    fix_t = None if mitigated_s is None or fault_t is None else fault_t + mitigated_s
    tried = [
        f"{e['t'] - fault_t:.1f} s: restart {e['service']}"
        + (" (no effect)" if fix_t is None or e["t"] < fix_t else "")
        for e in ordered
        if fault_t is not None and e["t"] >= fault_t and e["kind"] == "docker.container"
        and e.get("action") == "restart" and e.get("role") == "stack"
    ]
    commands = [f"{e['t'] - (fault_t or 0):.1f} s: {'--netns ' if e.get('netns') else ''}{e['service']}: "
                f"{' '.join(e['command'])} (exit {e['exit_code']})" for e in ordered if e["kind"] == "drill.exec"]
    ended = next((e for e in ordered if e["kind"] == "drill.ended"), {})
    identified, mitigated = original_minutes(scenario)
    return Debrief(
        outcome=str(ended.get("outcome", "interrupted")),
        fault_t=fault_t,
        acknowledged_s=first(lambda e: e["kind"] == "drill.ack"),
        identified_s=first(lambda e: e["kind"] == "drill.note"
                           or (e["kind"] == "drill.exec" and e.get("service") == target)),
        mitigated_s=mitigated_s,
        recovered_s=first(lambda e: e["kind"] == "drill.recovered"),
        hints_used=sum(1 for e in ordered if e["kind"] == "drill.hint"),
        mitigations_tried=tried,
        commands=commands,
        original_identified_min=identified,
        original_mitigated_min=mitigated,
    )


def minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def render_markdown(result: Debrief, scenario: Scenario) -> str:
    rows = [
        ("acknowledged the alert", result.acknowledged_s, None),
        ("identified the cause (first note, or a command on the faulty service)", result.identified_s,
         result.original_identified_min),
        ("mitigated (the fault no longer in effect)", result.mitigated_s, result.original_mitigated_min),
        ("recovered (users back to steady state)", result.recovered_s, None),
    ]
    lines = [f"# Drill debrief: {scenario.title}", "",
             f"The incident was `{scenario.name}` ({scenario.difficulty}): {scenario.source}.", "",
             f"Outcome: **{result.outcome}**. Hints used: {result.hints_used} of {len(scenario.drill.hints)}.", "",
             "| since the fault landed | you (min:s) | original incident |", "| --- | ---: | ---: |"]
    for label, seconds, original in rows:
        lines.append(f"| {label} | {minutes(seconds)} | {'-' if original is None else f'{original:g} min'} |")
    lines += ["", "## Mitigations tried", ""]
    lines += [f"- {line}" for line in result.mitigations_tried] or ["- none"]
    lines += ["", "## Commands run through the lab", ""]
    lines += [f"- `{line}`" for line in result.commands] or ["- none"]
    return "\n".join(lines) + "\n"
