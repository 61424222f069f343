"""Who owns a run: the lab process it lives and dies with, named by host, pid and start time (the owner label on
every resource of the run, and the owner file in its scratch directory), so that a run whose process is gone is
told from one still going even when its pid was reused. Stacks from `lab up` are detached (no owner) and stay."""

from __future__ import annotations

import os
import socket
from pathlib import Path

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


OWNER_FILE = "owner"
"""In a run's scratch directory (lab.stack.scratch): the owner token of the process that made it."""
