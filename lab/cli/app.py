"""The `lab` command as a process: every command registered, then run with a quick exit and an output whose failures
end the command wherever they happen (a reader gone away, a full disk), each in one line."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import platform
import shlex
import sys
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn, TextIO

import click

from lab import __version__
from lab.cli import drill, gameday, recordings, run, scenarios, stack  # noqa: F401 - each registers its commands
from lab.cli.base import main
from lab.errors import BUG_REPORTS, EXIT_ENVIRONMENT, EXIT_INTERNAL_ERROR, EXIT_READER_GONE, EXIT_SIGINT

__all__ = ["entry", "main"]
"""`main` here is the `lab` group with every command registered (each module above adds its own)."""


def entry() -> NoReturn:
    """The `lab` command: `main`, then a quick exit. The interpreter's own shutdown (freeing the 800 modules and the
    recording a run holds) costs a good part of a second after every command, with nothing left to do by then: a
    command returns
    once its files are closed, its stack removed and the threads doing that joined (a daemon thread still running
    then, such as a load generator's after a failure, is only ended sooner). Click's own usage errors (an unknown
    option, a value of the wrong type) end in one line too, as every other failure a user can cause; and so does an
    exception nobody foresaw, with exit 70 and its traceback in a file (`internal_error`).

    Standard output is flushed before that exit, and its failures end the command wherever they happen: a reader
    that went away (`lab faults | head -1`) ends it quietly with 141, what a shell reports for a tool killed by
    SIGPIPE (the lab keeps SIGPIPE ignored, as Python sets it: a socket or a fault helper's pipe that breaks mid-run
    must be an error the run cleans up after, not the death of the process); an output that cannot be written (a
    full disk) ends in one line and exit 3."""
    sys.stdout = Output.over(sys.stdout)
    try:
        code = main_status()
        sys.stdout.flush()
    except OutputFailed as failed:
        if failed.failure.errno == errno.EPIPE:
            code = EXIT_READER_GONE  # nothing to say: the reader has what it wanted
        else:
            click.echo(f"lab: error: cannot write the output: {failed.failure.strerror or failed.failure}", err=True)
            code = EXIT_ENVIRONMENT
    with contextlib.suppress(OSError, ValueError):  # stderr gone too: nobody left to tell
        sys.stderr.flush()
    os._exit(code)

def main_status() -> int:
    """Run `main` and return the exit status it ends with."""
    try:
        returned = main.main(prog_name="lab", standalone_mode=False)
        return returned if isinstance(returned, int) else 0  # --help and --version return click's exit code
    except click.exceptions.NoArgsIsHelpError as asked:  # bare `lab`, `lab images`: the help is the answer
        asked.show()
        return asked.exit_code
    except click.ClickException as problem:
        click.echo(f"lab: error: {usage_line(problem)}", err=True)
        return problem.exit_code
    except (click.Abort, KeyboardInterrupt):  # Ctrl-C in a prompt, or while click parses
        click.echo("lab: interrupted", err=True)
        return EXIT_SIGINT
    except SystemExit as done:
        return exit_status(done.code)
    except OutputFailed:
        raise  # entry() says it, or stays quiet for a reader gone
    except Exception as bug:  # what no one foresaw: one line, the traceback kept for the report
        return internal_error(bug)


def internal_error(bug: Exception) -> int:
    """An exception the lab did not foresee (its commands turn every failure a user can cause into a LabError): one
    line saying it is a bug, where its traceback was written and where to report it; EXIT_INTERNAL_ERROR. The
    traceback goes to a file rather than the screen: a screenful would hide the one line saying what to do."""
    said = (str(bug).splitlines() or [""])[0][:200]
    what = f"{type(bug).__name__}: {said}" if said else type(bug).__name__
    log = crash_directory() / f"crash-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{os.getpid()}.log"
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"outage-lab {__version__}, Python {platform.python_version()}\n"
                       f"command: {shlex.join(sys.argv)}\n\n" + "".join(traceback.format_exception(bug)))
        where = f"its traceback is in {log}"
    except OSError as exc:
        where = f"its traceback could not be written to {log} ({exc.strerror or exc})"
    click.echo(f"lab: error: internal error ({what}), a bug of the lab: {where}; please report it to {BUG_REPORTS} "
               "with that file", err=True)
    return EXIT_INTERNAL_ERROR

def crash_directory() -> Path:
    """Where internal errors' tracebacks go: beside the runs' scratch directories (lab.stack.scratch), not among
    them, which are removed with their runs."""
    return Path(tempfile.gettempdir()) / "outage-lab-crashes"


class OutputFailed(Exception):
    """Standard output could not be written. Not an OSError: click takes a broken pipe from anywhere for the reader
    gone and exits 1 (a check failed, for the lab), and a command's own OSErrors are not the output's."""

    def __init__(self, failure: OSError) -> None:
        super().__init__(str(failure))
        self.failure = failure

class Output(io.TextIOWrapper):
    """The process's standard output, whose failures to write or flush are OutputFailed."""

    @classmethod
    def over(cls, stream: TextIO) -> TextIO:
        if not isinstance(stream, io.TextIOWrapper):
            return stream  # not a process's own output (a test's capture): left as it is
        return cls(stream.buffer, encoding=stream.encoding, errors=stream.errors,
                   line_buffering=stream.line_buffering, write_through=stream.write_through)

    def write(self, text: str) -> int:
        try:
            return super().write(text)
        except OSError as failure:
            raise OutputFailed(failure) from failure

    def flush(self) -> None:
        try:
            super().flush()
        except OSError as failure:
            raise OutputFailed(failure) from failure

def usage_line(problem: click.ClickException) -> str:
    """Click's message on one line, naming the command whose --help tells more."""
    message = " ".join(problem.format_message().split()).rstrip(".")
    context = problem.ctx if isinstance(problem, click.UsageError) else None
    return f"{message} (see `{context.command_path} --help`)" if context is not None else message

def exit_status(code: object) -> int:
    """What `sys.exit(code)` would make the process's exit status."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1
