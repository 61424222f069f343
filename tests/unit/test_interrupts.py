"""Signals during a run and after it, how a guarded run's failures are kept, and the `lab` command's exit status.
No Docker: signals are sent to this process."""

from __future__ import annotations

import os
import signal

import pytest
from requests.exceptions import ConnectionError as RequestsConnectionError

from lab.cli import exit_status
from lab.errors import EngineLost, StackError
from lab.interrupts import GuardedOutcome, RunInterrupted, SignalGuard


def test_the_first_signal_interrupts_and_a_second_is_only_acknowledged(capsys: pytest.CaptureFixture[str]) -> None:
    with SignalGuard() as guard:
        with pytest.raises(RunInterrupted) as raised:
            os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)  # cleanup goes on
    assert raised.value.exit_code == 130 and guard.received is raised.value
    assert "received again: still cleaning up" in capsys.readouterr().err


def test_after_the_run_every_signal_is_only_acknowledged(capsys: pytest.CaptureFixture[str]) -> None:
    """Once the run is over, the stack's removal and the report finish whatever the user presses."""
    finished = False
    with SignalGuard(interrupt=False):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        finished = True
    assert finished
    assert capsys.readouterr().err.count("the run is over; removing its stack") == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handlers are put back


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
