"""A game day in progress: its trainees (each a drill process, its follower and its view), what each page may see
of them, the actions the pages may take, and the scoreboard. The web layer (lab.gameday.server) only translates
HTTP to these calls."""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lab.drill.debrief import minutes
from lab.errors import LabError
from lab.gameday.drills import DrillPlan, DrillProcess, Follower
from lab.gameday.scoreboard import Entry, Row, render_markdown, scoreboard
from lab.gameday.view import DrillView, Line, figures_json
from lab.report.build import report_run

TRAINEE_ACTIONS = {"ack", "note", "hint", "give-up"}


@dataclass
class Trainee:
    plan: DrillPlan
    process: DrillProcess
    view: DrillView
    follower: Follower
    token: str = field(default_factory=lambda: secrets.token_urlsafe(18))

    @classmethod
    def of(cls, plan: DrillPlan, base_env: dict[str, str]) -> Trainee:
        view = DrillView(plan.scenario)
        return cls(plan, DrillProcess(plan, base_env), view, Follower(plan.run_dir / "events.jsonl", view))

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def ended(self) -> bool:
        """The drill process has exited: its cleanup is done and its debrief written."""
        return self.process.exit_code is not None

    def status(self) -> str:
        outcome = self.view.outcome
        if self.ended:
            if outcome is not None:
                return outcome
            return f"failed before the drill began: {self.process.last_output_line() or 'no output'}"
        if outcome is not None:
            return f"{outcome} (cleaning up)"
        if not self.view.started:
            return "starting the stack"
        return "on call"

    def act(self, op: str, text: str = "") -> dict[str, Any]:
        """A trainee's button: the same request `lab ack|note|hint|give-up` sends."""
        if op not in TRAINEE_ACTIONS:
            return {"ok": False, "error": f"unknown action {op!r}"}
        if op == "note" and not text.strip():
            return {"ok": False, "error": "a note needs some text"}
        if not self.view.started or self.ended:
            return {"ok": False, "error": "the drill is not running" if self.ended else "the stack is still starting"}
        try:
            return self.process.request(op, **({"text": text.strip()} if op == "note" else {}))
        except LabError as exc:
            return {"ok": False, "error": str(exc)}

    # --- what the pages show ------------------------------------------------------------------------------------
    def trainee_snapshot(self, wall: datetime) -> dict[str, Any]:
        """Everything the trainee's page shows. Never the scenario, the fault or its target."""
        env = self.plan.terminal_env()
        return {
            "name": self.name, "status": self.status(), "ended": self.ended, "t": round(self.view.now_t(wall), 1),
            "run_id": self.view.run_id, "figures": figures_json(self.view.figures(wall)),
            "hints": self.view.hints(), "hints_total": len(self.plan.scenario.drill.hints),
            "activity": [_line(line) for line in self.view.timeline(for_facilitator=False)],
            "terminal": " ".join(f"{name}={value}" for name, value in env.items()),
        }

    def facilitator_snapshot(self, wall: datetime) -> dict[str, Any]:
        fault = self.plan.fault
        result = self.view.debrief()
        return {
            "index": self.plan.index, "name": self.name, "status": self.status(), "ended": self.ended,
            "engine": self.plan.engine.name, "t": round(self.view.now_t(wall), 1), "run_id": self.view.run_id,
            "scenario": {"name": self.plan.scenario.name, "title": self.plan.scenario.title},
            "fault": {"id": fault.id, "kind": fault.kind, "target": fault.target, "description": fault.description},
            "fault_landed_t": self.view.fault_t(),
            "figures": figures_json(self.view.figures(wall)),
            "milestones": {"acknowledged": minutes(result.acknowledged_s), "identified": minutes(result.identified_s),
                           "mitigated": minutes(result.mitigated_s), "recovered": minutes(result.recovered_s)},
            "hints_used": result.hints_used, "hints_total": len(self.plan.scenario.drill.hints),
            "timeline": [_line(line) for line in self.view.timeline(for_facilitator=True)],
        }

    def report_html(self) -> Path:
        """The run's report, written once the drill has ended."""
        path = self.plan.run_dir / "report.html"
        if not path.exists():
            report_run(self.plan.run_dir)
        return path


def _line(line: Line) -> dict[str, Any]:
    return {"t": minutes(line.t), "text": line.text, "who": line.who}


class GameDay:
    def __init__(self, directory: Path, trainees: list[Trainee], engines: list[str]) -> None:
        self.directory = directory
        self.trainees = trainees
        self.engines = engines
        self.facilitator_token = secrets.token_urlsafe(18)
        self.closing = threading.Event()
        """Set by the facilitator's "close" button or a signal: the game day winds up."""

    def trainee(self, token: str) -> Trainee | None:
        found = None
        for trainee in self.trainees:  # compare every token in constant time: no early exit to time
            if secrets.compare_digest(trainee.token, token):
                found = trainee
        return found

    def is_facilitator(self, token: str) -> bool:
        return secrets.compare_digest(self.facilitator_token, token)

    def by_index(self, index: int) -> Trainee | None:
        return next((t for t in self.trainees if t.plan.index == index), None)

    @property
    def all_ended(self) -> bool:
        return all(trainee.ended for trainee in self.trainees)

    def end_drill(self, index: int) -> dict[str, Any]:
        trainee = self.by_index(index)
        if trainee is None:
            return {"ok": False, "error": f"no drill {index}"}
        if trainee.ended:
            return {"ok": False, "error": f"{trainee.name}'s drill has already ended"}
        trainee.process.end()
        return {"ok": True, "message": f"ending {trainee.name}'s drill"}

    def scoreboard(self) -> list[Row]:
        """The ended drills, best first."""
        return scoreboard([Entry(t.name, t.plan.scenario.name, t.view.debrief(), len(t.plan.scenario.drill.hints))
                           for t in self.trainees if t.ended and t.view.started])

    def facilitator_snapshot(self) -> dict[str, Any]:
        wall = datetime.now(UTC)
        return {"drills": [trainee.facilitator_snapshot(wall) for trainee in self.trainees],
                "all_ended": self.all_ended, "closing": self.closing.is_set(),
                "scoreboard": [asdict(row) for row in self.scoreboard()]}

    def write_records(self) -> None:
        """gameday.json (who drilled what, where) and, once drills have ended, scoreboard.md and .json."""
        record = {"directory": str(self.directory), "engines": self.engines, "trainees": [
            {"name": t.name, "scenario": t.plan.scenario.name, "fault": t.plan.fault.id, "engine": t.plan.engine.name,
             "seed": t.plan.seed, "run_dir": str(t.plan.run_dir), "status": t.status()} for t in self.trainees]}
        (self.directory / "gameday.json").write_text(json.dumps(record, indent=2) + "\n")
        rows = self.scoreboard()
        if rows:
            (self.directory / "scoreboard.md").write_text(render_markdown(rows))
            (self.directory / "scoreboard.json").write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
