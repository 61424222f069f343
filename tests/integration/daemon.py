"""Restarting the Docker daemon from a test, which only ever happens to a daemon the lab started itself.

`scripts/ensure-docker.sh` writes the pid of a dockerd it starts to DOCKERD_PIDFILE; a daemon started any other
way (systemd on a laptop) is never touched, and neither is one that runs containers that are not the lab's.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import docker
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from lab.settings import PROJECT_ROOT
from lab.stack import labels

from .helpers import NotYet

DOCKERD_PIDFILE = Path("/run/outage-lab/dockerd.pid")
ENSURE_DOCKER = PROJECT_ROOT / "scripts" / "ensure-docker.sh"


def restartable_dockerd(client: docker.DockerClient) -> tuple[int | None, str]:
    """(pid, "") of a dockerd this test may restart, or (None, why not)."""
    try:
        pid = int(DOCKERD_PIDFILE.read_text())
        command = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError):
        return None, f"the Docker daemon was not started by {ENSURE_DOCKER.name} (no live pid in {DOCKERD_PIDFILE})"
    if command != "dockerd":
        return None, f"pid {pid} in {DOCKERD_PIDFILE} is {command!r}, not dockerd"
    foreign = [c.name for c in client.containers.list() if c.labels.get(labels.MANAGED) != "true"]
    if foreign:
        return None, f"containers that are not the lab's are running ({', '.join(foreign)})"
    return pid, ""


def stop_dockerd(pid: int) -> None:
    """What `systemctl stop docker` does: SIGTERM; the daemon stops every container, then exits."""
    os.kill(pid, signal.SIGTERM)

    def exited() -> None:  # and reaped: ensure-docker.sh would take a zombie for a running daemon
        if Path(f"/proc/{pid}").exists():
            raise NotYet(f"dockerd {pid} has not exited yet")

    Retrying(stop=stop_after_delay(120), wait=wait_fixed(0.2), retry=retry_if_exception_type(NotYet),
             reraise=True)(exited)


def start_dockerd() -> None:
    subprocess.run([str(ENSURE_DOCKER)], check=True, timeout=180)


def restart_dockerd(pid: int) -> None:
    """What `systemctl restart docker` does."""
    stop_dockerd(pid)
    start_dockerd()
