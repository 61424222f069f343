"""Which runs' host directories a lab command removes: those whose owner process is gone, told by owner tokens
(host, pid, start ticks) read from /proc; never one whose owner lives, a detached stack's, or one without a token."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from lab.leftovers import DETACHED, OWNER_FILE, owner_alive, owner_token, remove_dead_runs_directories


def gone_process_token() -> str:
    """The token of a process that has exited (its pid now free, or someone else's with other start ticks)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    token = owner_token(child.pid)
    child.wait()
    return token


def run_directory(root: Path, name: str, owner: str | None) -> Path:
    directory = root / name
    directory.mkdir()
    (directory / "override.yaml").write_text("services: {}\n")
    if owner is not None:
        (directory / OWNER_FILE).write_text(owner)
    return directory


def test_only_the_directories_of_dead_owners_go(tmp_path: Path) -> None:
    """A killed run's directory goes; a live owner's, a detached stack's, another host's and an unowned one stay."""
    dead = gone_process_token()
    assert not owner_alive(dead) and owner_alive(owner_token())
    run_directory(tmp_path, "run-killed", dead)
    run_directory(tmp_path, "run-alive", owner_token())
    run_directory(tmp_path, "run-detached", DETACHED)
    run_directory(tmp_path, "run-elsewhere", f"not-{socket.gethostname()}:1:1")
    run_directory(tmp_path, "no-token", None)
    assert remove_dead_runs_directories(tmp_path) == ["run-killed"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["no-token", "run-alive", "run-detached",
                                                                 "run-elsewhere"]


def test_a_missing_root_is_nothing_to_remove(tmp_path: Path) -> None:
    """A machine where no run ever wrote a directory: nothing to do, and no error."""
    assert remove_dead_runs_directories(tmp_path / "never-made") == []
