"""Runbook steps, run as a responder runs them: inside a service (docker exec), in a service's network namespace
from the tools image with NET_ADMIN only (what `lab exec --netns` does), or a team's own script on the host with
the stack's names in its environment, so that it can use `lab`, `docker` and `docker compose` like a person on
call. argv only, never a shell string; each with a timeout; its exit code and output tail are what it leaves."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from requests.exceptions import ConnectionError as EngineConnectionError
from requests.exceptions import ReadTimeout

from lab.docker_env import bundled_compose
from lab.netns import run_tool
from lab.scenario import RunbookStep
from lab.stack import Stack

OUTPUT_TAIL = 2000


@dataclass(frozen=True)
class RunbookResult:
    exit_code: int | None
    """None: it ran out of time."""
    output: str
    """The tail of its output (stdout and stderr together)."""
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def summary(self, timeout_s: float) -> str:
        said = self.output.strip().splitlines()[-1:] or ["no output"]
        if self.exit_code is None:
            return f"runbook step ran out of time after {timeout_s:g} s: {said[0]}"
        return f"runbook step exited {self.exit_code} after {self.duration_s:.1f} s: {said[0]}"


def script_path(step: RunbookStep, base_dir: Path) -> Path:
    assert step.script is not None  # a host step
    path = Path(step.script)
    return path if path.is_absolute() else base_dir / path


class RunbookRunner:
    def __init__(self, stack: Stack, tools_image: str, base_dir: Path) -> None:
        self.stack = stack
        self.tools_image = tools_image
        self.base_dir = base_dir

    def run(self, step: RunbookStep) -> RunbookResult:
        started = time.monotonic()
        if step.service_name is not None:
            code, output = self._in_service(step.service_name, list(step.argv), step.timeout_s)
        elif step.netns is not None:
            code, output = self._in_netns(step.netns, list(step.argv), step.timeout_s)
        else:
            code, output = self._on_host(script_path(step, self.base_dir), list(step.args), step.timeout_s)
        return RunbookResult(code, output[-OUTPUT_TAIL:], round(time.monotonic() - started, 3))

    def _in_service(self, service: str, argv: list[str], timeout_s: float) -> tuple[int | None, str]:
        container = self.stack.container(service)  # label-checked: only this run's containers
        done: list[Any] = []
        worker = threading.Thread(target=lambda: done.append(container.exec_run(argv)), daemon=True)
        worker.start()
        worker.join(timeout_s)
        if not done:  # Docker cannot stop an exec; the command dies with the container at the latest
            return None, f"(still running in {service} after {timeout_s:g} s)"
        return int(done[0].exit_code), done[0].output.decode(errors="replace")

    def _in_netns(self, service: str, argv: list[str], timeout_s: float) -> tuple[int | None, str]:
        container = self.stack.container(service)
        try:
            return run_tool(self.stack.client, self.tools_image, container.id, self.stack.run_id, argv, timeout_s)
        except (ReadTimeout, EngineConnectionError):  # the tool container is removed on the way out
            return None, f"(no answer from the tools container after {timeout_s:g} s)"

    def _on_host(self, script: Path, args: list[str], timeout_s: float) -> tuple[int | None, str]:
        process = subprocess.Popen([str(script), *args], cwd=script.parent, env=self.environment(),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            output, _ = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):  # the script and whatever it started
                os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            return None, output.decode(errors="replace")
        return process.returncode, output.decode(errors="replace")

    def environment(self) -> dict[str, str]:
        """What a host script is given: the user's environment, the stack's Compose environment (so that
        `docker compose ps` or `docker compose restart app-2` just work), the run id, each service's container
        name, the tools image, and `lab` first on PATH, behind only the Compose binary the lab itself runs (its
        `docker-compose`: the script of that name beside `lab` would report every failure as success)."""
        bundled = bundled_compose()
        path = [*([str(bundled.parent)] if bundled is not None else []), str(Path(sys.executable).parent),
                os.environ.get("PATH", "")]
        names = {f"LAB_CONTAINER_{service.upper().replace('-', '_')}": container.name
                 for service, container in self.stack.containers().items()}
        return {
            **os.environ,
            **self.stack.compose_environment(),
            **names,
            "COMPOSE_PROJECT_NAME": self.stack.project,
            "COMPOSE_FILE": str(self.stack.settings.compose_file),
            "LAB_SERVICES": " ".join(sorted(self.stack.containers())),
            "LAB_TOOLS_IMAGE": self.tools_image,
            "DOCKER_HOST": os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock",
            "PATH": os.pathsep.join(path),
        }
