"""The game day's scoreboard: every trainee's times beside the original incident's, best first. Pure: debriefs in,
rows out (for the facilitator's page, scoreboard.md and scoreboard.json)."""

from __future__ import annotations

from dataclasses import dataclass

from lab.drill.debrief import Debrief, minutes


@dataclass(frozen=True)
class Entry:
    trainee: str
    scenario: str
    debrief: Debrief
    hints_total: int


@dataclass(frozen=True)
class Row:
    rank: int | None
    """1 for the fastest fix; None for a drill that was not fixed."""
    trainee: str
    scenario: str
    outcome: str
    acknowledged: str
    identified: str
    mitigated: str
    recovered: str
    hints: str
    original_identified: str
    original_mitigated: str


def _order(entry: Entry) -> tuple[int, float, int, str]:
    result = entry.debrief
    fixed = result.outcome == "fixed" and result.mitigated_s is not None
    return (0 if fixed else 1, (result.mitigated_s or 0.0) if fixed else 0.0, result.hints_used, entry.trainee)


def scoreboard(entries: list[Entry]) -> list[Row]:
    """Fixed drills first, fastest mitigation first (fewer hints break a tie); then the others, by name."""
    rows = []
    rank = 0
    for entry in sorted(entries, key=_order):
        result = entry.debrief
        fixed = result.outcome == "fixed"
        rank += fixed
        rows.append(Row(
            rank=rank if fixed else None, trainee=entry.trainee, scenario=entry.scenario, outcome=result.outcome,
            acknowledged=minutes(result.acknowledged_s), identified=minutes(result.identified_s),
            mitigated=minutes(result.mitigated_s), recovered=minutes(result.recovered_s),
            hints=f"{result.hints_used}/{entry.hints_total}",
            original_identified=_original(result.original_identified_min),
            original_mitigated=_original(result.original_mitigated_min)))
    return rows


def _original(value: float | None) -> str:
    return "-" if value is None else f"{value:g} min"


COLUMNS = ("rank", "trainee", "scenario", "outcome", "acknowledged", "identified", "mitigated", "recovered", "hints",
           "incident: identified", "incident: mitigated")


def render_markdown(rows: list[Row]) -> str:
    lines = ["# Game day scoreboard", "",
             "Times since the fault landed (min:s), beside the original incident's (minutes).", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    for row in rows:
        cells = ["-" if row.rank is None else str(row.rank), row.trainee, row.scenario, row.outcome, row.acknowledged,
                 row.identified, row.mitigated, row.recovered, row.hints, row.original_identified,
                 row.original_mitigated]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
