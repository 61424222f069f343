"""What every command shares: the `lab` group and its help, one line and an exit code for every failure a user can
cause, progress lines on stderr, the engine connection (which removes dead runs' leftovers first), and a run
directory argument."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich import box
from rich.table import Table

from lab import __version__
from lab.errors import EXIT_SIGINT, InvalidInput, LabError
from lab.settings import ALLOW_SCRIPTS_OPTION, Settings
from lab.stack.docker_api import ENGINE_ERRORS, engine_failed
from lab.stack.engine import Engine

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES_HELP = """\b
Exit codes:
  0    all checks passed (or the command did what it says)
  1    a check failed: the documented recovery did not work
  2    invalid input: bad scenario file or arguments, nothing started
  3    environment problem: no Docker daemon, no Compose v2, port taken, build failed,
       the Docker engine went away mid-run, the output cannot be written
  4    nothing to act on (e.g. `lab down` with no stack up, `lab ack` before any alert)
  5    unreliable recording: the load generator fell behind its schedule (lower --rate)
  70   internal error: a bug of the lab; its traceback is in the file the error line names
  130  interrupted by Ctrl-C (SIGINT); 143 by SIGTERM: cleanup ran, recording marked partial
  141  the output's reader went away (`lab ... | head`): stopped quietly, as on SIGPIPE
"""

def one_line_errors(command: F) -> F:
    """Every LabError ends as one line on stderr and its exit code; no traceback for things users cause."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except LabError as exc:
            click.echo(f"lab: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except ENGINE_ERRORS as exc:  # the engine went away mid-command
            failure = engine_failed(exc)
            click.echo(f"lab: error: {failure}", err=True)
            sys.exit(failure.exit_code)
        except KeyboardInterrupt:
            click.echo("lab: interrupted", err=True)
            sys.exit(EXIT_SIGINT)

    return wrapper  # type: ignore[return-value]  # functools.wraps loses the precise type

def allow_scripts_option(command: F) -> F:
    """`--allow-scripts-in DIR`, repeatable: where runbook scripts may be besides their scenario's directory."""
    return click.option(
        ALLOW_SCRIPTS_OPTION, "script_dirs", multiple=True, metavar="DIR",
        type=click.Path(path_type=Path, exists=True, file_okay=False),
        help="Let runbook scripts be in DIR too (repeatable); by default a script must be in the directory of the "
             "scenario (or runbook file) naming it.")(command)


def speed_value(ctx: click.Context, param: click.Parameter, value: str) -> float | str:
    """`--speed` of `lab run`: a number, or `max`, the largest speed the scenario allows (lab.scenario.pacing)."""
    if value == "max":
        return value
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a number nor max", ctx, param) from None


def settings_allowing(script_dirs: tuple[Path, ...]) -> Settings:
    """The environment's settings, with the script directories the user allowed on the command line."""
    return replace(Settings.from_env(), script_dirs=script_dirs)


def progress(message: str) -> None:
    click.echo(f"lab: {message}", err=True)

def engine() -> Engine:
    connected = Engine.connect(Settings.from_env())
    for run_id in connected.reaped:
        progress(f"removed the leftovers of run {run_id} (its lab process is gone)")
    return connected

class LabCommand(click.Command):
    """A command whose argument errors name it: click raises some (an option missing its value) without the
    command's context, and the one line then could not say which command's --help to read."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as problem:
            problem.ctx = problem.ctx or ctx
            raise

class LabGroup(click.Group, LabCommand):
    command_class = LabCommand


LabGroup.group_class = LabGroup


@click.group(cls=LabGroup, epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="outage-lab")
def main() -> None:
    """outage-lab: re-live a real outage on a local Docker Compose stack."""



def listing_table() -> Table:
    """A listing's frame: rules between its entries of several lines, no side borders (columns for the text)."""
    return Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, show_lines=True)



def run_dir_argument(path: Path) -> Path:
    try:
        found = path.is_dir()
    except OSError as exc:  # a name too long, say: is_dir answers False only for what does not exist
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not found:
        raise InvalidInput(f"no run directory at {path}")
    return path

