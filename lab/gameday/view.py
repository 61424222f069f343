"""A drill as the game day's pages show it, built from its recording as it is written: what the trainee sees (an
on-call engineer's view, never the fault) and what the facilitator sees (the fault, the timeline, the trainee's
milestones). Fed events, asked for a snapshot at a moment: no Docker, no web, no threads of its own."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from lab.drill.debrief import Debrief, debrief
from lab.drill.live import LiveFigures, LiveState
from lab.record.events import Event
from lab.record.schema import alert_saw
from lab.scenario.document import Scenario

RESTART_FOLDS_S = 30.0
"""A `docker restart` is a kill, a die, a stop and a start before the restart event: shown as one line."""
QUIET_KINDS = {"request", "app.db_error", "app.pool_warning", "docker.health", "writes.checking", "fault.verified",
               "step"}
"""Kept by the live figures only (requests, app errors) or by nobody: not worth a line, nor a long drill's memory."""


@dataclass(frozen=True)
class Line:
    t: float
    """Drill clock: seconds since the recording began."""
    text: str
    who: str
    """trainee (their own actions), system (what the monitoring shows) or lab (facilitator only)."""


def describe(event: Event) -> Line | None:
    """One line for the timeline, or None for an event nobody needs to read."""
    kind, t = event["kind"], float(event["t"])

    def line(text: str, who: str = "system") -> Line:
        return Line(t, text, who)

    if kind == "alert.fired":
        return line(f"ALERT {event.get('alert')} fired ({alert_saw(event)})")
    if kind == "alert.resolved":
        return line(f"alert {event.get('alert')} resolved")
    if kind == "drill.ack":
        return line("acknowledged the alert", "trainee")
    if kind == "drill.note":
        return line(f"note: {event.get('text', '')}", "trainee")
    if kind == "drill.hint":
        how = "asked for" if event.get("requested") else "was given"
        return line(f"{how} hint {event.get('number')}: {event.get('text', '')}", "trainee")
    if kind == "drill.exec":
        netns = "--netns " if event.get("netns") else ""
        command = " ".join(str(part) for part in event.get("command") or [])
        return line(f"lab exec {netns}{event.get('service')} -- {command} (exit {event.get('exit_code')})", "trainee")
    if kind == "drill.logs":
        return line(f"lab logs {event.get('service')}", "trainee")
    if kind == "docker.exec":
        return line(f"docker exec {event.get('service')} {event.get('command')}", "trainee")
    if kind == "docker.container" and event.get("role") == "stack" and event.get("action") != "create":
        return line(f"{event.get('service')}: container {event.get('action')}", "trainee")
    if kind == "drill.gave_up":
        return line("gave up", "trainee")
    if kind == "drill.fixed":
        return line("the fault is no longer in effect: mitigated")
    if kind == "drill.recovered":
        return line("users back to steady state: recovered")
    if kind == "drill.ended":
        return line(f"drill ended: {event.get('outcome')}")
    if kind == "engine.lost":
        return line(f"the Docker engine went away ({event.get('detail')})")
    if kind == "fault.applied":
        return line(f"the fault landed: {event.get('fault')} ({event.get('fault_kind')}) on {event.get('target')}",
                    "lab")
    if kind == "fault.reverted":
        return line(f"fault {event.get('fault')} reverted by the lab", "lab")
    if kind == "recorder.warning":
        return line(f"recorder warning ({event.get('source')}): {event.get('message')}", "lab")
    return None


def fold_restarts(lines: list[tuple[Event, Line]]) -> list[Line]:
    """Drop the container events that make up a restart (same service, just before it)."""
    restarts = [(float(event["t"]), event.get("service")) for event, _ in lines
                if event["kind"] == "docker.container" and event.get("action") == "restart"]
    kept = []
    for event, line in lines:
        if event["kind"] == "docker.container" and event.get("action") != "restart" and any(
                service == event.get("service") and 0 <= t - float(event["t"]) <= RESTART_FOLDS_S
                for t, service in restarts):
            continue
        kept.append(line)
    return kept


class DrillView:
    """Feed it every event of one drill (it is thread-safe); read snapshots from any thread."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.live = LiveState()
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._origin: tuple[float, datetime] | None = None
        self._ended_t: float | None = None
        self.run_id: str | None = None
        self.outcome: str | None = None
        self.closed = False
        """The recording is complete (run.ended): the debrief can be written."""

    def __call__(self, event: Event) -> None:
        self.live(event)
        kind = event["kind"]
        if kind in QUIET_KINDS:
            return
        with self._lock:
            self._events.append(event)
            if kind == "run.started":
                self._origin = (float(event["t"]), datetime.fromisoformat(str(event["wall"])))
                self.run_id = event.get("run_id")
            elif kind == "drill.ended":
                self.outcome = str(event.get("outcome"))
                self._ended_t = float(event["t"])
            elif kind == "run.ended":
                self.closed = True

    @property
    def started(self) -> bool:
        return self._origin is not None

    def now_t(self, wall: datetime) -> float:
        """The drill clock at wall-clock `wall`: 0 before the recording began, and it stops when the drill ends (the
        figures then stay as they were at the end)."""
        if self._origin is None:
            return 0.0
        t0, wall0 = self._origin
        now = t0 + (wall - wall0).total_seconds()
        return now if self._ended_t is None else min(now, self._ended_t)

    def events(self) -> list[Event]:
        with self._lock:
            return list(self._events)

    def figures(self, wall: datetime) -> LiveFigures:
        return self.live.figures(self.now_t(wall))

    def timeline(self, for_facilitator: bool) -> list[Line]:
        described = [(event, line) for event in self.events() if (line := describe(event)) is not None]
        lines = fold_restarts(described)
        return [line for line in lines if for_facilitator or line.who != "lab"]

    def hints(self) -> list[str]:
        return [str(e.get("text", "")) for e in self.events() if e["kind"] == "drill.hint"]

    def fault_t(self) -> float | None:
        return next((float(e["t"]) for e in self.events() if e["kind"] == "fault.applied"), None)

    def debrief(self) -> Debrief:
        return debrief(self.events(), self.scenario)


def figures_json(figures: LiveFigures) -> dict[str, Any]:
    return {**asdict(figures), "error_rate": figures.error_rate, "rate_per_s": figures.rate_per_s}
