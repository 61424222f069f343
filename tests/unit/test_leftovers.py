"""Which runs' host directories a lab command removes: those whose owner process is gone, told by owner tokens
(host, pid, start ticks) read from /proc; never one whose owner lives, a detached stack's, or one without a token."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import pytest

from lab.drill.control import POINTER, ActiveDrill, check_socket_path, control_socket, read_active
from lab.errors import LabError, NothingRunning
from lab.stack.cleanup import remove_dead_scratch
from lab.stack.owners import DETACHED, OWNER_FILE, owner_alive, owner_token
from lab.stack.scratch import scratch_directory


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
    assert remove_dead_scratch(tmp_path) == ["run-killed"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["no-token", "run-alive", "run-detached",
                                                                 "run-elsewhere"]


def test_a_missing_root_is_nothing_to_remove(tmp_path: Path) -> None:
    """A machine where no run ever wrote a directory: nothing to do, and no error."""
    assert remove_dead_scratch(tmp_path / "never-made") == []


def test_a_killed_drills_control_socket_goes_with_its_run_directory(tmp_path: Path) -> None:
    """A drill killed with SIGKILL leaves its bound control socket: it is in the run's own directory, so the next
    lab command removes it with that directory; a pointer to it then reads as no drill running, and goes."""
    run_id = "20261127t060345-5aaa"
    assert control_socket(run_id).parent == scratch_directory(run_id)
    short_root = Path(tempfile.mkdtemp(prefix="ol-", dir="/tmp"))  # a socket's path must fit in 108 bytes
    try:
        directory = run_directory(short_root, run_id, gone_process_token())
        path = directory / control_socket(run_id).name
        bound = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        bound.bind(str(path))
        bound.close()  # as SIGKILL leaves it: the file stays
        assert path.is_socket()
        (tmp_path / POINTER).write_text(json.dumps(asdict(ActiveDrill(str(path), run_id, "runs/x", "tools"))))
        assert read_active(tmp_path).socket_path == str(path)
        assert remove_dead_scratch(short_root) == [run_id]
        assert not path.exists()
        with pytest.raises(NothingRunning, match="no drill is running"):
            read_active(tmp_path)
        assert not (tmp_path / POINTER).exists()
    finally:
        shutil.rmtree(short_root, ignore_errors=True)


def test_a_temporary_directory_too_deep_for_a_socket_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """A drill's control socket lives under the temporary directory: one too deep for a Unix socket's path is
    refused before the drill starts anything, naming TMPDIR; an ordinary one passes."""
    monkeypatch.setattr(tempfile, "tempdir", "/tmp")
    check_socket_path()
    monkeypatch.setattr(tempfile, "tempdir", "/tmp/" + "deep/" * 13)
    with pytest.raises(LabError, match=r"^the drill.s control socket would be 11[0-9] bytes long .* set TMPDIR"):
        check_socket_path()
