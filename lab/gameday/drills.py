"""One trainee's drill in a game day: an ordinary `lab drill` process on one engine, with a runs folder of its own
(so its control-socket pointer is its own, and a trainee's terminal finds it with LAB_RUNS_DIR), the control
requests the pages send it, and the follower that reads its recording as it is written.

Why a process per drill rather than threads in the server: a drill already owns its stack, its reaper and its
fault helpers, whose dead-man switches are tied to the process that started them; a process per drill keeps
that guarantee per trainee (one drill crashing or being killed cleans up after itself alone), points each drill
at its engine with nothing but DOCKER_HOST, and leaves `lab drill` and its terminal commands exactly as they are.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from lab.drill.control import send
from lab.drill.trainee import drawn_fault
from lab.errors import LabError
from lab.faults.base import FaultSpec
from lab.gameday.engines import DOCKER_VARIABLES, DockerEngine
from lab.record.events import Event
from lab.scenario.document import Scenario
from lab.settings import ALLOW_SCRIPTS_OPTION

FOLLOW_EVERY_S = 0.25
END_WAIT_S = 30.0
"""How long ending a drill waits for it to listen (its stack still starting) before it is sent SIGTERM instead."""
PR_SET_PDEATHSIG = 1

@dataclass(frozen=True)
class DrillPlan:
    index: int
    """1-based: trainee-1, trainee-2..."""
    name: str
    scenario: Scenario
    scenario_path: Path
    seed: int
    engine: DockerEngine
    home: Path
    """The trainee's runs folder: LAB_RUNS_DIR of the drill and of the trainee's terminal."""
    inject_after_s: float | None = None
    max_duration_s: float | None = None
    script_dirs: tuple[Path, ...] = ()
    """Directories the game day's user allowed runbook scripts in (`--allow-scripts-in`), passed on to the drill."""

    @property
    def run_dir(self) -> Path:
        return self.home / "drill"

    @property
    def log_path(self) -> Path:
        return self.home / "drill.log"

    @property
    def fault(self) -> FaultSpec:
        """The fault this drill lands: drawn by the drill itself from the same seed (lab.drill.trainee)."""
        return drawn_fault(self.scenario, self.seed)

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "lab.cli", "drill", str(self.scenario_path), "--seed", str(self.seed),
                "--out", str(self.run_dir)]
        if self.inject_after_s is not None:
            argv += ["--inject-after", str(self.inject_after_s)]
        if self.max_duration_s is not None:
            argv += ["--max-duration", str(self.max_duration_s)]
        for directory in self.script_dirs:
            argv += [ALLOW_SCRIPTS_OPTION, str(directory.resolve())]
        return argv

    def terminal_env(self) -> dict[str, str]:
        """What a trainee's terminal needs so that `lab exec`, `lab logs` and plain docker reach this drill."""
        engine = self.engine.process_env(os.environ)
        return {"LAB_RUNS_DIR": str(self.home.resolve()),
                **{name: engine[name] for name in DOCKER_VARIABLES if engine.get(name)}}


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it if the game day process dies, however it dies (kill -9 included). The
    drill then cleans up as on any SIGTERM; its stack's reaper covers the rest."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class DrillProcess:
    def __init__(self, plan: DrillPlan, base_env: Mapping[str, str]) -> None:
        self.plan = plan
        self._env = {**plan.engine.process_env(base_env),
                     "LAB_RUNS_DIR": str(plan.home)}
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Call from the main thread before any other thread starts: the parent-death signal belongs to the
        thread that forks, and a fork while other threads hold locks is unsafe."""
        self.plan.home.mkdir(parents=True, exist_ok=True)
        with self.plan.log_path.open("wb") as log:
            self._process = subprocess.Popen(self.plan.argv(), env=self._env, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True,
                                             preexec_fn=_die_with_parent)

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def exit_code(self) -> int | None:
        return None if self._process is None else self._process.poll()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send one control request (ack, note, hint, give-up, end) to the drill; LabError if it is not there."""
        return send(self.plan.home, {"op": op, **fields})

    def end(self) -> None:
        """Stop the drill as "ended by the facilitator". A drill whose stack is still starting listens within
        seconds: it is asked again until it does; one that does not within END_WAIT_S (or has stopped listening)
        gets SIGTERM instead, which it handles like Ctrl-C."""
        if not self.running:
            return
        retrying = Retrying(stop=stop_after_delay(END_WAIT_S), wait=wait_fixed(0.25), reraise=True,
                            retry=retry_if_exception_type(LabError))

        def ask() -> dict[str, Any]:
            if not self.running:
                return {"ok": False}
            return self.request("end")

        try:
            reply = retrying(ask)
        except LabError:
            reply = {"ok": False}
        if not reply.get("ok") and self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                self._process.terminate()

    def wait(self, timeout_s: float) -> int | None:
        if self._process is None:
            return None
        try:
            return self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self.running and self._process is not None:
            self._process.kill()
            self._process.wait()

    def last_output_line(self) -> str:
        try:
            lines = self.plan.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1] if lines else ""


class Follower:
    """Reads a recording that is still being written, line by line, and hands each event to `on_event`. A last
    line not yet finished is kept until it is."""

    def __init__(self, path: Path, on_event: Callable[[Event], None]) -> None:
        self.path = path
        self.on_event = on_event
        self._stop = threading.Event()
        self._file: TextIO | None = None
        self._partial = ""
        self._thread = threading.Thread(target=self._run, name=f"follow-{path.parent.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.read_available()  # whatever the drill wrote last
        if self._file is not None:
            self._file.close()

    def _run(self) -> None:
        while not self._stop.wait(FOLLOW_EVERY_S):
            self.read_available()

    def read_available(self) -> None:
        if self._file is None:
            try:
                self._file = self.path.open(encoding="utf-8")
            except FileNotFoundError:
                return  # the drill has not started recording yet
        chunk = self._file.read()
        if not chunk:
            return
        *lines, self._partial = (self._partial + chunk).split("\n")
        for line in lines:
            event = _parse(line)
            if event is not None:
                self.on_event(event)


def _parse(line: str) -> Event | None:
    try:
        parsed = json.loads(line)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None
