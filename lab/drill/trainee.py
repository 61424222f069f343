"""A drill: steady traffic, a fault landing at an unannounced moment, a trainee at the controls (over the control
socket), and the lab judging the fix from the fault's own verify and from what users see."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from requests import ConnectionError as EngineUnreachable
from rich.console import Console

from lab.drill.control import ActiveDrill, ControlServer, control_socket
from lab.drill.dashboard import Dashboard
from lab.errors import EngineLost, LabError
from lab.faults import FaultSpec, build_fault
from lab.faults.helper import StackTarget
from lab.judge.analysis import Request, find_recovery
from lab.judge.verdict import recovery_criteria
from lab.play.performer import StepPerformer
from lab.play.teardown import tear_down
from lab.record.events import Event
from lab.record.recorder import Recorder
from lab.scenario.document import ApplyStep, Scenario
from lab.stack.engine import ENGINE_ERRORS
from lab.stack.project import Stack

MONITOR_EVERY_S = 1.0
ENGINE_LOST = "aborted: the Docker engine went away"


@dataclass(frozen=True)
class DrillOptions:
    seed: int = 0
    out_dir: Path | None = None
    inject_after_s: float | None = None
    """Fixed moment for the fault (scripted drills and tests); default: drawn from the scenario's window."""
    max_duration_s: float | None = None
    hidden: bool = False
    """Drawn at random: nothing names the scenario until the debrief."""


def drawn_fault(scenario: Scenario, seed: int) -> FaultSpec:
    """The fault a drill lands: drawn (seeded) from the scenario's drill list, or from every declared fault."""
    pool = [scenario.fault(fault_id) for fault_id in scenario.drill.faults] or list(scenario.faults)
    return random.Random(f"fault:{seed}").choice(pool)


class DrillSession:
    def __init__(self, scenario: Scenario, stack: Stack, tools_image: str, run_dir: Path, runs_dir: Path,
                 options: DrillOptions, console: Console) -> None:
        if not scenario.faults:
            raise ValueError("a drill needs a scenario with a fault")
        self.scenario, self.stack, self.run_dir, self.runs_dir = scenario, stack, run_dir, runs_dir
        self.options = options
        self.tools_image = tools_image
        self.stop = threading.Event()
        """Set when the trainee gives up, the facilitator ends the drill, or the Docker engine goes away."""
        self.ended_by: str | None = None
        self.recorder = Recorder(scenario, stack, run_dir, seed=options.seed, stop_on_engine_loss=self.stop,
                                 mode="drill")
        self.log, self.clock = self.recorder.log, self.recorder.clock
        self.max_duration_s = options.max_duration_s or scenario.drill.max_duration_s
        self.spec = drawn_fault(scenario, options.seed)
        self.fault_id = self.spec.id
        self.fault = build_fault(self.spec, StackTarget(stack, tools_image), ttl_s=self.max_duration_s + 120)
        self.performer = StepPerformer(stack, {self.spec.id: self.fault}, self.log)
        self.criteria = recovery_criteria(scenario)
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self._hints_released = 0
        self._actions: list[float] = []  # when the trainee (or anyone) acted on the stack
        self._restarted: set[str] = set()
        """Stack services restarted since the monitor last looked: the fault may have to follow one (Fault.follow)."""
        self._alert_fired_t: float | None = None
        self._last_check: tuple[float | None, bool | None] = (None, None)
        """When the monitor last verified the fault, and whether it was still in place (for `info`)."""
        self.fault_t: float | None = None
        self.dashboard = Dashboard(console, self.clock)
        self.log.subscribe(self._observe)
        self.log.subscribe(self.dashboard)

    # --- trainee requests (control socket threads) ---------------------------------------------------------
    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "info":
            with self._lock:
                checked_t, in_place = self._last_check
            return {"ok": True, "run_id": self.stack.run_id, "tools_image": self.tools_image,
                    "fault_checked_t": checked_t, "fault_in_place": in_place}
        if op == "ack":
            return self._acknowledge()
        if op == "note":
            self.log.emit("drill.note", text=str(request.get("text", "")))
            return {"ok": True, "message": "noted on the timeline"}
        if op == "hint":
            return {"ok": True, "message": self._release_hint(requested=True)}
        if op == "exec":
            self.log.emit("drill.exec", service=request.get("service"), command=request.get("command"),
                          netns=bool(request.get("netns")), exit_code=request.get("exit_code"))
            return {"ok": True}
        if op == "logs":
            self.log.emit("drill.logs", service=request.get("service"))
            return {"ok": True}
        if op == "end":  # a game day's facilitator stops the drill: neither a fix nor a give-up
            self.ended_by = str(request.get("by") or "the facilitator")
            self.stop.set()
            return {"ok": True, "message": f"drill ended by {self.ended_by}"}
        if op == "give-up":
            self.stop.set()
            spec = self.spec
            return {"ok": True, "message": f"the cause was: {spec.description or spec.kind} "
                                           f"(fault {spec.id} on {spec.target}); reverting it now"}
        return {"ok": False, "error": f"unknown request {op!r}"}

    def _acknowledge(self) -> dict[str, Any]:
        """An acknowledgement answers a page: before any alert has fired there is nothing to acknowledge, so an early
        `lab ack` is refused (exit 4) rather than recorded as a response to a page that never came."""
        with self._lock:
            fired = self._alert_fired_t
        if fired is None:
            return {"ok": False, "nothing_to_act_on": True,
                    "error": "no alert has fired yet: nothing to acknowledge (`lab note TEXT` records what you see)"}
        self.log.emit("drill.ack")
        return {"ok": True, "message": "alert acknowledged"}

    def _release_hint(self, requested: bool) -> str:
        with self._lock:
            hints = self.scenario.drill.hints
            if self._hints_released >= len(hints):
                return "no more hints"
            hint = hints[self._hints_released]
            self._hints_released += 1
        self.log.emit("drill.hint", number=self._hints_released, requested=requested, text=hint.text)
        return f"hint {self._hints_released}/{len(hints)}: {hint.text}"

    def _observe(self, event: Event) -> None:
        if event["kind"] in ("drill.exec", "docker.exec") or (event["kind"] == "docker.container"
                                                               and event.get("role") == "stack"):
            with self._lock:
                self._actions.append(event["t"])
                if event["kind"] == "docker.container" and event.get("action") == "start":
                    self._restarted.add(str(event.get("service")))
        elif event["kind"] == "request":
            with self._lock:
                self._requests.append(Request.from_event(event))
        elif event["kind"] == "alert.fired":
            with self._lock:
                if self._alert_fired_t is None:
                    self._alert_fired_t = event["t"]

    # --- the drill ---------------------------------------------------------------------------------------------
    def run(self) -> None:
        """Play the drill; cleanup (revert, writes check, recording closed) runs whatever happens. Raises EngineLost
        if the Docker engine went away."""
        inject_at = self.options.inject_after_s
        if inject_at is None:
            inject_at = random.Random(self.options.seed).uniform(*self.scenario.drill.inject_after_s)
        server = ControlServer(control_socket(self.stack.run_id), self.handle)
        outcome = "interrupted"
        try:
            self.recorder.start()
            server.start(self.runs_dir, ActiveDrill(str(server.socket_path), self.stack.run_id, str(self.run_dir),
                                                    self.tools_image))
            self.dashboard.start()
            outcome = self._play(inject_at)
        except EngineUnreachable:  # the monitor's fault check found nobody listening on the engine's socket
            self.recorder.engine_loss.notice("a call to it found nobody listening")
            outcome = ENGINE_LOST
        except (LabError, *ENGINE_ERRORS):  # a step's own error, unless the engine's shutdown caused it
            if not self.recorder.engine_stopped_under_step():
                raise
            outcome = ENGINE_LOST
        finally:
            self.log.emit("drill.ended", outcome=outcome)
            tear_down(self.recorder, self.performer, [self.dashboard, server],
                      partial=outcome in ("interrupted", ENGINE_LOST), reason=f"drill {outcome}")
        if outcome == ENGINE_LOST:
            raise EngineLost(str(self.recorder.engine_loss.reason))

    def _follow_restarts(self) -> None:
        """A trainee restarted a service (the database, say): if it came back at another address, the fault moves
        with it, as in a run, so that a restart cannot fix by accident what it did not fix in the incident."""
        with self._lock:
            restarted, self._restarted = self._restarted, set()
        for service in sorted(restarted):
            self.performer.follow(service)

    def _play(self, inject_at: float) -> str:
        step = ApplyStep(action="apply", at_minutes=0, fault_id=self.fault_id, text="the fault lands (unannounced)")
        self.performer.prepare(step, inject_at)
        if not self.clock.wait_until(inject_at, self.stop):
            return self._stopped()
        started = self.clock.now()
        self.performer.apply(self.fault_id)
        self.fault_t = started
        self.log.emit("step", t=started, index=0, action="apply", planned_t=round(inject_at, 4),
                      skew_s=round(started - inject_at, 4), took_s=round(self.clock.now() - started, 4), ok=True,
                      detail="fault in place", clock="", text=step.text, milestone=None, fault=self.fault_id,
                      service=None, command=None)
        fixed_t: float | None = None
        still_applied_t = started
        while not self.stop.wait(MONITOR_EVERY_S):
            now = self.clock.now()
            self._release_scheduled_hints(now - started)
            if fixed_t is None:
                self._follow_restarts()
                checked_t = self.clock.now()
                applied = self.fault.verify().applied
                with self._lock:
                    self._last_check = (checked_t, applied)
                if applied:
                    still_applied_t = checked_t
                else:
                    fixed_t = self._fix_time(still_applied_t, now)
                    self.log.emit("drill.fixed", t=fixed_t, detected_t=round(now, 4))
                    self.log.emit("step", t=fixed_t, index=1, action="fix", planned_t=round(fixed_t, 4), skew_s=0.0,
                                  took_s=0.0, ok=True, detail="the fault is no longer in effect", clock="",
                                  text="trainee's fix took effect", milestone="mitigation", fault=None, service=None,
                                  command=None)
                    continue
            else:
                with self._lock:
                    recovered = find_recovery(self._requests, fixed_t, self.criteria)
                if recovered is not None:
                    self.log.emit("drill.recovered", t=recovered)
                    return "fixed"
            if now - started > self.max_duration_s:
                return "timed out"
        return self._stopped()

    def _stopped(self) -> str:
        if self.recorder.engine_loss.reason is not None:
            return ENGINE_LOST
        if self.ended_by is not None:
            return f"ended by {self.ended_by}"
        self.log.emit("drill.gave_up")
        return "gave up"

    def _fix_time(self, still_applied_t: float, detected_t: float) -> float:
        """The fix happened between the last check that saw the fault and the one that did not: credit the last
        action on the stack in that span (the monitor only polls), or the detection if nothing was done."""
        with self._lock:
            acted = [t for t in self._actions if still_applied_t <= t <= detected_t]
        return max(acted, default=detected_t)

    def _release_scheduled_hints(self, since_fault_s: float) -> None:
        hints = self.scenario.drill.hints
        while True:
            with self._lock:
                due = self._hints_released < len(hints) and hints[self._hints_released].after_s is not None and \
                    since_fault_s >= (hints[self._hints_released].after_s or 0)
            if not due:
                return
            self.dashboard.show_hint(self._release_hint(requested=False))
