"""Signals during a run and after it, how a guarded run's failures are kept, and the `lab` command's exit status.
No Docker: signals are sent to this process, or to a `lab` process doing something that needs no engine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path
from types import FrameType

import pytest
from requests.exceptions import ConnectionError as RequestsConnectionError

from lab.cli.app import exit_status
from lab.errors import EngineLost, StackError
from lab.settings import PROJECT_ROOT
from lab.signals import GuardedOutcome, RunInterrupted, SignalGuard

RECORDING = Path(__file__).resolve().parent.parent / "fixtures" / "recordings" / "20261126T220157Z-db-network-misconfig"
# The second lab.cli takes to load, made as long as the test needs: its import waits until the signal comes.
SLOW_CLI_IMPORT = """
import sys, time

class SlowCli:
    def find_spec(self, name, path=None, target=None):
        if name == "lab.cli":
            print("loading", flush=True)
            time.sleep(60)

sys.meta_path.insert(0, SlowCli())
"""


def interruptible(argv: list[str]) -> subprocess.Popen[str]:
    """A process started with SIGINT as a terminal gives it (a shell's background job would have it ignored)."""
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def test_the_first_signal_interrupts_and_a_second_is_only_acknowledged(capsys: pytest.CaptureFixture[str]) -> None:
    with SignalGuard() as guard:
        with pytest.raises(RunInterrupted) as raised:
            os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)  # cleanup goes on
    assert raised.value.exit_code == 130 and guard.received is raised.value
    assert "received again: still cleaning up" in capsys.readouterr().err


def test_after_the_run_every_signal_is_only_acknowledged(capsys: pytest.CaptureFixture[str]) -> None:
    """Once the run is over, the stack's removal and the report finish whatever the user presses, and the guard
    puts back the handlers it found."""

    def replaced(signum: int, _: FrameType | None) -> None:
        raise AssertionError(f"signal {signum} reached the handler the guard replaced")

    # The test's own handler rather than the process's, which is Python's default_int_handler, or SIG_IGN in a
    # shell's background job (`cmd &`): a guard that put back a fixed one would match one of those.
    found = {signum: signal.signal(signum, replaced) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        finished = False
        with SignalGuard(interrupt=False):
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGTERM)
            finished = True
        assert finished
        assert capsys.readouterr().err.count("the run is over; removing its stack") == 2
        assert {signum: signal.getsignal(signum) for signum in found} == dict.fromkeys(found, replaced)
    finally:
        for signum, handler in found.items():
            signal.signal(signum, handler)


def test_a_failed_stack_removal_is_what_the_run_reports() -> None:
    """As an error raised while leaving a `with` block would: what is left behind replaces why the run stopped."""
    outcome = GuardedOutcome(failure=EngineLost("the Docker engine went away at t=17.3 s"))
    outcome.add(None)
    assert isinstance(outcome.failure, EngineLost)
    outcome.add(StackError("cannot remove run r1: the Docker engine is not answering"))
    assert str(outcome.failure) == "cannot remove run r1: the Docker engine is not answering"
    outcome.add(RequestsConnectionError("refused"))  # the SDK's own error becomes the lab's one line
    assert isinstance(outcome.failure, EngineLost)
    with pytest.raises(ZeroDivisionError):  # a bug is not turned into a user's error
        outcome.add(ZeroDivisionError())


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (3, 3), (130, 130), (256, 0), ("boom", 1)])
def test_the_command_exits_with_what_sys_exit_would_give(code: object, status: int,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status(code) == status
    assert capsys.readouterr().err == ("boom\n" if code == "boom" else "")


def test_ctrl_c_while_the_command_loads_is_one_line_and_exit_130() -> None:
    """The `lab` script's entry point catches a Ctrl-C that lands while the CLI is still being imported (about a
    second: click, rich, pydantic, the Docker SDK), here held up on purpose until the signal comes."""
    script = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["scripts"]["lab"]
    module, function = script.split(":")
    process = interruptible([sys.executable, "-c", f"{SLOW_CLI_IMPORT}\nfrom {module} import {function}\n{function}()",
                             "faults"])
    assert process.stdout is not None and process.stdout.readline() == "loading\n"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert (process.returncode, stderr) == (130, "lab: interrupted\n")


def test_ctrl_c_during_a_replay_is_exit_130() -> None:
    """`lab replay` stopped by Ctrl-C says so in one line and exits 130, as every interrupted command does."""
    process = interruptible([sys.executable, "-m", "lab.cli", "replay", str(RECORDING), "--speed", "1"])
    assert process.stdout is not None and process.stdout.readline().strip()  # the replay is under way
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert (process.returncode, stderr) == (130, "lab: interrupted\n")
