"""A drill's driver (lab.play.session): steady traffic, the fault landing at an unannounced moment, a trainee at the
controls over the control socket (`lab ack`, `lab note`, `lab hint`, `lab give-up`, the commands they run), hints
released on their schedule, and the end: the fault gone (the fault watch credits the trainee's last action before
it went) and users back to steady state, or a give-up, the facilitator's end, the time allowed."""

from __future__ import annotations

import json
import random
import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from lab.drill.control import ActiveDrill, ControlServer, check_socket_path, control_socket, ensure_no_active_drill
from lab.drill.dashboard import Dashboard
from lab.drill.debrief import Debrief, debrief, render_markdown
from lab.drill.hints import Hints
from lab.drill.history import DrillRecord, write_record
from lab.errors import InvalidInput, LabError
from lab.faults.base import FaultSpec
from lab.judge.recording import read_recording
from lab.judge.requests import Request, find_recovery
from lab.judge.verdict import recovery_criteria
from lab.play.session import Ending, Play, View
from lab.play.stage import Stage
from lab.play.steps.apply import ApplyStep
from lab.play.steps.base import StepFailed
from lab.play.steps.deploy import roll_out
from lab.play.timeline import StepRecord, perform_step, record_step
from lab.record import loadgen
from lab.record.drill_schema import (
    DrillAck,
    DrillEnded,
    DrillExec,
    DrillFixed,
    DrillGaveUp,
    DrillLogs,
    DrillNote,
    DrillRecovered,
)
from lab.record.events import Event
from lab.scenario.document import Scenario
from lab.settings import Settings
from lab.stack import readiness
from lab.stack.docker_api import ENGINE_ERRORS
from lab.stack.labels import ROLE_STACK
from lab.stack.releases import CURRENT

MONITOR_EVERY_S = 1.0
ENGINE_LOST = "aborted: the Docker engine went away"
TRAINEE_ACTIONS = ("drill.exec", "docker.exec")
TRAINEE_DEPLOY_WAIT_S = 20.0
"""How long `lab deploy` waits for the new release to serve: within the control socket's 30 s."""
"""Events that say the trainee (or anyone) acted on the stack, besides a stack container's own events."""


@dataclass(frozen=True)
class DrillOptions:
    seed: int = 0
    out_dir: Path | None = None
    inject_after_s: float | None = None
    """Fixed moment for the fault (scripted drills and tests); default: drawn from the scenario's window."""
    max_duration_s: float | None = None
    hidden: bool = False
    """Drawn at random: nothing names the scenario until the debrief."""
    trainee: str | None = None
    """Who drills (lab.drill.history): their drill is recorded in their history."""


def drawn_fault(scenario: Scenario, seed: int) -> FaultSpec:
    """The fault a drill lands: drawn (seeded) from the scenario's drill list, or from every declared fault."""
    pool = [scenario.fault(fault_id) for fault_id in scenario.drill.faults] or list(scenario.faults)
    return random.Random(f"fault:{seed}").choice(pool)


class TraineeDriver:
    mode = "drill"

    def __init__(self, scenario: Scenario, settings: Settings, options: DrillOptions, console: Console) -> None:
        if not scenario.faults:
            raise InvalidInput(f"scenario {scenario.name} has no fault to drill on")
        self.scenario, self.settings, self.options, self.console = scenario, settings, options, console
        self.spec = drawn_fault(scenario, options.seed)
        self.max_duration_s = options.max_duration_s or scenario.drill.max_duration_s
        self.criteria = recovery_criteria(scenario)
        self.result: Debrief | None = None
        self.ended_by: str | None = None
        self._play: Play | None = None
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self.hints = Hints(scenario.drill.hints)
        self._alert_fired_t: float | None = None
        self._fixed_t: float | None = None
        self.dashboard: Dashboard | None = None

    # --- the session's questions -------------------------------------------------------------------------------
    def check(self, settings: Settings) -> None:
        check_socket_path()
        settings.runs_dir.mkdir(parents=True, exist_ok=True)
        ensure_no_active_drill(settings.runs_dir)

    def warm_up(self) -> None:
        readiness.warm_up()
        loadgen.warm_up()

    def latest_end_s(self, scenario: Scenario, spec: FaultSpec) -> float:
        """The drill ends at the latest its time allowed after the fault landed."""
        return self.max_duration_s

    def views(self, play: Play) -> list[View]:
        self._play = play
        dashboard = Dashboard(self.console, play.recorder.clock)
        server = ControlServer(control_socket(play.stack.run_id), self.handle)
        active = ActiveDrill(str(server.socket_path), play.stack.run_id, str(play.run_dir), play.tools_image)
        play.recorder.log.subscribe(self._observe)
        play.recorder.log.subscribe(dashboard)
        self.dashboard = dashboard
        return [Listening(server, self.settings.runs_dir, active), dashboard]

    def play(self, play: Play) -> Ending:
        self.console.print(f"lab: drill {play.stack.run_id}: the stack is up and users are arriving. You are on call.",
                           highlight=False)
        self.record_trainee(play.run_dir, play.recorder.clock.wall())
        outcome = "interrupted"
        try:
            outcome = self._drill(play)
        except (LabError, *ENGINE_ERRORS):  # a step's own error, unless the engine's shutdown caused it
            if not play.recorder.engine_stopped_under_step():
                raise
            outcome = ENGINE_LOST
        finally:
            play.recorder.log.emit(DrillEnded(outcome=outcome))
        return Ending(partial=outcome in ("interrupted", ENGINE_LOST), reason=f"drill {outcome}")

    def conclude(self, run_dir: Path) -> None:
        """Debrief what was recorded (nothing if the drill failed before its recording began), show it and keep it."""
        if not (run_dir / "events.jsonl").exists():
            return
        recording = read_recording(run_dir)
        self.result = debrief(recording.events, recording.scenario)
        markdown = render_markdown(self.result, recording.scenario)
        (run_dir / "debrief.md").write_text(markdown)
        (run_dir / "debrief.json").write_text(json.dumps(asdict(self.result), indent=2) + "\n")
        self.console.print(markdown, markup=False, highlight=False)
        self.console.print(f"lab: drill recording and debrief in {run_dir}", markup=False, highlight=False)

    def record_trainee(self, run_dir: Path, started: datetime) -> None:
        """Keep who drills this scenario in the run directory (lab.drill.history), once the stack is up: a drill that
        never started is not one they drilled."""
        if self.options.trainee is not None:
            write_record(run_dir, DrillRecord(trainee=self.options.trainee, scenario=self.scenario.name,
                                              started=started))

    # --- the drill ---------------------------------------------------------------------------------------------
    def _drill(self, play: Play) -> str:
        clock, stage = play.recorder.clock, play.stage
        inject_at = self.options.inject_after_s
        if inject_at is None:
            inject_at = random.Random(self.options.seed).uniform(*self.scenario.drill.inject_after_s)
        step = ApplyStep(action="apply", at_minutes=0, fault_id=self.spec.id, text="the fault lands (unannounced)")
        step.prepare(stage, inject_at)
        if not clock.wait_until(inject_at, play.stop):
            return self._stopped(play)
        landed = perform_step(step, inject_at, clock, play.recorder.log, lambda s: s.perform(stage))
        while not play.stop.wait(MONITOR_EVERY_S):
            since_fault_s = clock.now() - landed.actual_t
            self._release_scheduled_hints(since_fault_s)
            with self._lock:
                fixed_t, requests = self._fixed_t, list(self._requests) if self._fixed_t is not None else []
            if fixed_t is not None:
                recovered = find_recovery(requests, fixed_t, self.criteria)
                if recovered is not None:
                    play.recorder.log.emit(DrillRecovered(), t=recovered)
                    return "fixed"
            if since_fault_s > self.max_duration_s:
                return "timed out"
        return self._stopped(play)

    def _stopped(self, play: Play) -> str:
        if play.recorder.engine_loss.reason is not None:
            return ENGINE_LOST
        if self.ended_by is not None:
            return f"ended by {self.ended_by}"
        play.recorder.log.emit(DrillGaveUp())
        return "gave up"

    def _observe(self, event: Event) -> None:
        """What the drill follows on its recording: the trainee's actions (for the fault watch to credit a fix to),
        requests (for the recovery), the first alert (what `lab ack` answers), and its fault going."""
        kind = event["kind"]
        if kind in TRAINEE_ACTIONS or (kind == "docker.container" and event.get("role") == ROLE_STACK):
            self._acted(event)
        elif kind == "request":
            with self._lock:
                self._requests.append(Request.from_event(event))
        elif kind == "alert.fired":
            with self._lock:
                self._alert_fired_t = self._alert_fired_t if self._alert_fired_t is not None else event["t"]
        elif kind == "fault.lost" and event.get("fault") == self.spec.id:
            self._fixed(event["t"], float(event.get("noticed_t") or event["t"]))

    def _acted(self, event: Event) -> None:
        """Someone acted on the stack at the event's time: an action of an instant, anywhere, for the fault watch."""
        assert self._play is not None
        watch = self._play.stage.faults.watch
        what = f"{event['kind']} {event.get('service') or ''} {event.get('action') or ''}".strip()
        watch.done(watch.action(what, None, t=event["t"]), t=event["t"])

    def _fixed(self, fixed_t: float, noticed_t: float) -> None:
        assert self._play is not None
        with self._lock:
            self._fixed_t = fixed_t
        log = self._play.recorder.log
        log.emit(DrillFixed(detected_t=round(noticed_t, 4)), t=fixed_t)
        record_step(log, StepRecord(index=1, action="fix", planned_t=fixed_t, actual_t=fixed_t, took_s=0.0, ok=True,
                                    detail="the fault is no longer in effect", text="trainee's fix took effect",
                                    milestone="mitigation"))

    # --- trainee requests (control socket threads) ---------------------------------------------------------
    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        assert self._play is not None
        play = self._play
        log = play.recorder.log
        if op == "info":
            checked_t, in_place = play.stage.faults.watch.last_check(self.spec.id)
            return {"ok": True, "run_id": play.stack.run_id, "tools_image": play.tools_image,
                    "fault_checked_t": checked_t, "fault_in_place": in_place}
        if op == "ack":
            return self._acknowledge()
        if op == "note":
            log.emit(DrillNote(text=str(request.get("text", ""))))
            return {"ok": True, "message": "noted on the timeline"}
        if op == "hint":
            return {"ok": True, "message": self.hints.release(log, requested=True)}
        if op == "exec":
            log.emit(DrillExec(service=request.get("service"), command=request.get("command"),
                               netns=bool(request.get("netns")), exit_code=request.get("exit_code")))
            return {"ok": True}
        if op == "logs":
            log.emit(DrillLogs(service=request.get("service")))
            return {"ok": True}
        if op == "deploy":
            return trainee_deploy(play.stage, str(request.get("service", "")), str(request.get("release", "")))
        if op == "end":  # a game day's facilitator stops the drill: neither a fix nor a give-up
            self.ended_by = str(request.get("by") or "the facilitator")
            play.stop.set()
            return {"ok": True, "message": f"drill ended by {self.ended_by}"}
        if op == "give-up":
            play.stop.set()
            return {"ok": True, "message": f"the cause was: {self.spec.description or self.spec.kind} "
                                           f"(fault {self.spec.id} on {self.spec.target}); reverting it now"}
        return {"ok": False, "error": f"unknown request {op!r}"}

    def _acknowledge(self) -> dict[str, Any]:
        """An acknowledgement answers a page: before any alert has fired there is nothing to acknowledge, so an early
        `lab ack` is refused (exit 4) rather than recorded as a response to a page that never came."""
        with self._lock:
            fired = self._alert_fired_t
        if fired is None:
            return {"ok": False, "nothing_to_act_on": True,
                    "error": "no alert has fired yet: nothing to acknowledge (`lab note TEXT` records what you see)"}
        assert self._play is not None
        self._play.recorder.log.emit(DrillAck())
        return {"ok": True, "message": "alert acknowledged"}

    def _release_scheduled_hints(self, since_fault_s: float) -> None:
        assert self._play is not None
        while self.hints.due(since_fault_s):
            hint = self.hints.release(self._play.recorder.log, requested=False)
            if self.dashboard is not None:
                self.dashboard.show_hint(hint)


def trainee_deploy(stage: Stage, service: str, release: str) -> dict[str, Any]:
    """The trainee's deploy (`lab deploy`: a rollback, say), performed by the drill, where the stack's configuration
    is, as a responder's action the fault watch may credit a fix to. The reply to the control socket's request."""
    spec = stage.stack.spec
    apps = spec.app_logs.services if spec.app_logs else ()
    releases = (CURRENT, *spec.releases)
    if service not in apps:
        return {"ok": False, "error": f"{service!r} is not an app service (apps: {', '.join(apps) or 'none'})"}
    if release not in releases:
        return {"ok": False, "error": f"unknown release {release!r} (releases: {', '.join(releases)})"}
    try:
        said = stage.as_responder("trainee's deploy", frozenset({service}),
                                  lambda: roll_out(stage, (service,), release, wait_s=TRAINEE_DEPLOY_WAIT_S,
                                                   by="trainee's deploy"))
    except StepFailed as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "message": said}


class Listening:
    """The control socket as a view: it listens (and the runs folder points at it) while the drill is played."""

    def __init__(self, server: ControlServer, runs_dir: Path, active: ActiveDrill) -> None:
        self.server, self.runs_dir, self.active = server, runs_dir, active

    def start(self) -> None:
        self.server.start(self.runs_dir, self.active)

    def stop(self) -> None:
        self.server.stop()
