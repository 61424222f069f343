"""Runbook steps, run as a responder runs them: inside a service (docker exec), in a service's network namespace
from the tools image with NET_ADMIN only (what `lab exec --netns` does), or a team's own script on the host with
the stack's names in its environment, so that it can use `lab`, `docker` and `docker compose` like a person on
call. argv only, never a shell string; each with a timeout; its exit code and output tail are what it leaves."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from requests.exceptions import ConnectionError as EngineConnectionError
from requests.exceptions import ReadTimeout

from lab.stack.compose import bundled_compose
from lab.stack.exec import run_tool
from lab.stack.project import Stack

OUTPUT_TAIL = 2000
LEFT_OPEN_READ_S = 0.5
"""How long the output is still read once a host script has exited, or been killed: what it wrote is in the pipe
already; a process it started that holds the pipe open (`sleep 30 &`, a daemon in its own session) is not waited
for, or the step would last as long as that process."""
CHECK_EXIT_EVERY_S = 0.05
"""While a host script's output is open, how often it is checked whether the script has exited."""


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


class RunbookRunner:
    def __init__(self, stack: Stack, tools_image: str, base_dir: Path) -> None:
        self.stack = stack
        self.tools_image = tools_image
        self.base_dir = base_dir

    def in_container(self, service: str, argv: tuple[str, ...], timeout_s: float, netns: bool) -> RunbookResult:
        """`argv` inside `service`, or (`netns`) in its network namespace from the tools image."""
        started = time.monotonic()
        if netns:
            code, output = self._in_netns(service, list(argv), timeout_s)
        else:
            code, output = self._in_service(service, list(argv), timeout_s)
        return RunbookResult(code, output[-OUTPUT_TAIL:], round(time.monotonic() - started, 3))

    def on_host(self, script: Path, args: tuple[str, ...], timeout_s: float) -> RunbookResult:
        """A team's script on this host, with the stack's names in its environment."""
        started = time.monotonic()
        code, output = run_script([str(script), *args], script.parent, self.environment(), timeout_s)
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


def run_script(argv: list[str], cwd: Path, env: dict[str, str], timeout_s: float) -> tuple[int | None, str]:
    """Run a host script in a session of its own: its exit code (None: it ran out of time, and it and what it started
    in its process group were killed) and its output (stdout and stderr together). It returns LEFT_OPEN_READ_S
    after the script has exited, or been killed at `timeout_s`, at the latest: the reading of its output is bounded
    too, and something the script started (in its group or out of it) that still holds the output open is not
    waited for."""
    deadline = time.monotonic() + timeout_s
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    assert process.stdout is not None  # stdout=PIPE
    chunks: list[bytes] = []
    try:
        with process.stdout as pipe, selectors.DefaultSelector() as selector:
            selector.register(pipe, selectors.EVENT_READ)
            ended = False  # the output's end: everything holding it has closed it
            while not ended and process.poll() is None and time.monotonic() < deadline:
                ended = _read(selector, pipe, chunks, min(deadline, time.monotonic() + CHECK_EXIT_EVERY_S))
            try:  # it may have closed its output and gone on
                code: int | None = process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                code = None
                _kill_group(process)
            if not ended:  # what is left in the pipe, unless something the script started keeps it open
                _read(selector, pipe, chunks, time.monotonic() + LEFT_OPEN_READ_S)
    except BaseException:  # interrupted (Ctrl-C): in a session of its own, the script did not hear it
        _kill_group(process)
        raise
    return code, b"".join(chunks).decode(errors="replace")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the script and whatever it started in its process group, and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _read(selector: selectors.BaseSelector, pipe: IO[bytes], chunks: list[bytes], until: float) -> bool:
    """Add what `pipe` gives until `until` to `chunks`; True at its end."""
    while (left := until - time.monotonic()) > 0 and selector.select(left):
        chunk = os.read(pipe.fileno(), 65536)
        if not chunk:
            return True
        chunks.append(chunk)
    return False
