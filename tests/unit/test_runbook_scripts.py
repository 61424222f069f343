"""A team's runbook script run on the host (no Docker): its exit code and output, its timeout, and the processes it
leaves behind, which must not hold the step up after the script has exited or been killed."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.play.runbook import run_script

IN_ITS_GROUP = "sleep 30 &"
IN_A_SESSION_OF_ITS_OWN = f"'{sys.executable}' -c 'import os, time; os.setsid(); time.sleep(30)' &"
"""A daemon's way: out of the script's process group, so that killing the group leaves it running."""
HANG_BOUND_S = 10.0
"""Far above what the calls take (a second or less) and far below the 30 s of the children: not hanging."""


@pytest.fixture
def children() -> Iterator[list[int]]:
    """The ids of the processes the scripts left behind, killed after the test whatever it found."""
    left: list[int] = []
    yield left
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def script(directory: Path, body: str) -> Path:
    path = directory / "step.sh"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def child_of(output: str) -> int:
    found = re.search(r"child (\d+)", output)
    assert found is not None, output
    return int(found.group(1))


def running(pid: int) -> bool:
    """Alive, and not a zombie waiting to be reaped by whoever adopted it (/proc tells; without it, the kernel)."""
    if Path("/proc/self/stat").exists():
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def run_timed(path: Path, timeout_s: float) -> tuple[int | None, str, float]:
    started = time.monotonic()
    code, output = run_script([str(path)], path.parent, dict(os.environ), timeout_s)
    return code, output, time.monotonic() - started


def test_a_host_script_gives_its_exit_code_and_its_output(tmp_path: Path) -> None:
    code, output, _ = run_timed(script(tmp_path, "echo to stdout; echo to stderr >&2; exit 3"), 10)
    assert code == 3 and output == "to stdout\nto stderr\n"


@pytest.mark.parametrize("start_child", [IN_ITS_GROUP, IN_A_SESSION_OF_ITS_OWN], ids=["in its group", "daemon"])
def test_a_script_out_of_time_returns_even_if_a_child_holds_its_output(tmp_path: Path, children: list[int],
                                                                        start_child: str) -> None:
    """Killed at its timeout, it returns at once with what it said, even when a process it started outside its
    process group keeps the output open (the read after the kill waited for that process to end); a child in its
    group is killed with it."""
    path = script(tmp_path, f"{start_child}\necho child $!\necho started\nsleep 30")
    code, output, took_s = run_timed(path, 0.5)
    children.append(child_of(output))
    assert took_s < HANG_BOUND_S and code is None and "started" in output
    if start_child == IN_ITS_GROUP:
        deadline = time.monotonic() + 5
        while running(children[0]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running(children[0])


def test_a_script_that_exits_leaving_a_child_on_its_output_returns_at_its_exit(tmp_path: Path,
                                                                                children: list[int]) -> None:
    """Its exit code and what it said, as soon as it has exited: the child it left running (on purpose, say a
    port-forward) keeps the output open, and communicate() waited for it until the step's timeout, then called the
    step out of time."""
    code, output, took_s = run_timed(script(tmp_path, f"{IN_ITS_GROUP}\necho child $!\necho done\nexit 0"), 20)
    children.append(child_of(output))
    assert took_s < HANG_BOUND_S and code == 0 and output.endswith("done\n")


def test_a_script_that_closes_its_output_and_runs_on_is_killed_at_its_timeout(tmp_path: Path) -> None:
    """The end of its output is not its end: it is still given until its timeout, then killed."""
    code, output, took_s = run_timed(script(tmp_path, "echo bye; exec >/dev/null 2>&1; sleep 30"), 0.5)
    assert code is None and output == "bye\n" and 0.5 <= took_s < HANG_BOUND_S


def test_a_script_interrupted_by_ctrl_c_is_killed_with_its_group(tmp_path: Path) -> None:
    """Ctrl-C during a host step (the lab's main thread interrupted): the script, in a session of its own, does not
    hear the terminal's SIGINT; the lab kills it before the interrupt goes on, so nothing of the run is left."""
    pid_file = tmp_path / "pid"
    path = script(tmp_path, f"echo $$ > '{pid_file}'\nsleep 30")

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_timed(path, 20)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    pid = int(pid_file.read_text())
    try:
        assert not running(pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
