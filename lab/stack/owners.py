"""Leftovers of dead runs: a `lab run` killed with SIGKILL leaves its stack behind (its faults revert by their
own TTL). Every run's resources carry an owner label naming the process (host, pid, start time); the next lab
command removes the resources whose owner is gone. Stacks from `lab up` are detached (no owner) and stay."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

import docker

from lab.stack import labels

DETACHED = "detached"


def process_start_ticks(pid: int) -> str | None:
    """The process start time from /proc: with the pid, it tells a live owner from a recycled pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime) counted after the command name, which may itself contain spaces and parentheses.
    return stat.rsplit(")", 1)[1].split()[19]


def owner_token(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{process_start_ticks(pid) or '?'}"


def owner_pid(token: str) -> str:
    """The process id in an owner token ("host:pid:ticks"), with its host when that is not this one."""
    host, _, rest = token.partition(":")
    pid = rest.partition(":")[0] or "?"
    return pid if host == socket.gethostname() else f"{pid} on {host}"


def owner_alive(token: str, hostname: str | None = None) -> bool:
    """False only when we can tell the owner is gone; an owner on another host is assumed alive."""
    if token in ("", DETACHED):
        return True
    host, _, rest = token.partition(":")
    pid_text, _, ticks = rest.partition(":")
    if host != (hostname or socket.gethostname()) or not pid_text.isdigit():
        return True
    return process_start_ticks(int(pid_text)) == ticks


def owners_by_run(client: docker.DockerClient) -> dict[str, str]:
    owners: dict[str, str] = {}
    selector = labels.managed_filter()
    resources = [(c.get("Labels") or {}) for c in labels.summaries(client, selector)]
    resources += [(n.attrs.get("Labels") or {}) for n in client.networks.list(filters=selector)]
    resources += [(v.attrs.get("Labels") or {}) for v in client.volumes.list(filters=selector)]
    for resource_labels in resources:
        run_id = resource_labels.get(labels.RUN)
        owner = resource_labels.get(labels.OWNER)
        if run_id and owner and owner != DETACHED:
            owners.setdefault(run_id, owner)
    return owners


def dead_runs(client: docker.DockerClient) -> list[str]:
    return sorted(run_id for run_id, owner in owners_by_run(client).items() if not owner_alive(owner))


OWNER_FILE = "owner"
"""In a run's own directory on the host (its Compose override's): the owner token of the process that made it."""


def remove_dead_runs_directories(root: Path) -> list[str]:
    """Remove the run directories under `root` whose owner process is gone, and say which went: a run killed with
    SIGKILL leaves its Compose override behind (its reaper removes what it has on the engine, not the lab's files on
    this host). A directory without an owner file is not one of these, and stays."""
    removed = []
    for directory in sorted(root.glob(f"*/{OWNER_FILE}")):
        try:
            token = directory.read_text().strip()
        except OSError:
            continue
        if not owner_alive(token):
            shutil.rmtree(directory.parent, ignore_errors=True)
            removed.append(directory.parent.name)
    return removed


def reap_dead_runs(client: docker.DockerClient, remove: Callable[[str], object]) -> list[str]:
    """Remove every run whose owner process is gone, through `remove` (which tears a run down by its label)."""
    reaped = dead_runs(client)
    for run_id in reaped:
        remove(run_id)
    return reaped
