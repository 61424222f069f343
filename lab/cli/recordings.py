"""The recording commands: its reports (`report`), played back in the terminal (`replay`), the recordings of a runs
folder (`runs`) and two side by side (`compare`). Each reads a recording through the one judging entry."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from lab.cli.base import listing_table, main, one_line_errors, run_dir_argument
from lab.clock import MonotonicClock
from lab.judge.recording import read_recording
from lab.play.console import terminal
from lab.report.runs import RunRow
from lab.scenario.pacing import MIN_SPEED, check_speed
from lab.settings import Settings


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@one_line_errors
def report(run_dir: Path) -> None:
    """Write report.html and postmortem.md for RUN_DIR (re-judging its recording; works on partial ones)."""
    from lab.report.build import report_run

    made = report_run(run_dir_argument(run_dir))
    click.echo(f"{made.html}\n{made.postmortem}\n(rendered in {made.render_s:.2f} s)")

@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--speed", type=float, default=10.0, show_default=True,
              help=f"Replay N times faster than the recording (at least {MIN_SPEED:g}).")
@one_line_errors
def replay(run_dir: Path, speed: float) -> None:
    """Play a recording back in the terminal: events as they happened, with live error rate and latency."""
    from lab.report.replay import replay as replay_recording

    check_speed(speed)
    events = read_recording(run_dir_argument(run_dir)).events
    replay_recording(events, speed, terminal(highlight=False), MonotonicClock())  # Ctrl-C: exit 130, as everywhere

@main.command()
@click.option("--dir", "runs_dir", type=click.Path(path_type=Path), help="Runs folder (default: LAB_RUNS_DIR or runs).")
@one_line_errors
def runs(runs_dir: Path | None) -> None:
    """The recordings in the runs folder, newest first, with verdict and key intervals."""
    from lab.report.runs import list_runs

    folder = runs_dir or Settings.from_env().runs_dir
    rows = list_runs(folder, missing_ok=runs_dir is None)  # the default folder is made by the first run
    if not rows:
        click.echo(f"no recordings yet in {folder}: `lab run db-network-misconfig` makes one")
        return
    terminal().print(runs_table(rows))
    for row in rows:
        if row.problem is not None:
            click.echo(f"lab: warning: {row.problem}", err=True)

def runs_table(rows: list[RunRow]) -> Table:
    """One row per run, readable at 80 columns: the run directory's name (what `lab report` and `lab compare` take)
    has the one column that wraps, over its scenario, and folds rather than lose its end if even that is too
    narrow; the intervals stand one under the other."""
    table = listing_table()
    table.add_column("run", overflow="fold")
    table.add_column("verdict", no_wrap=True)
    table.add_column("fault error rate", width=6)
    table.add_column("intervals", no_wrap=True)
    for row in rows:
        rate = "-" if row.fault_error_rate is None else f"{row.fault_error_rate:.1%}"
        spans = [f"{name} {row.intervals[name]:.1f} s" if name in row.intervals else f"{name} -"
                 for name in ("detect", "mitigate", "recover")]
        table.add_row(Text.assemble(row.run_dir.name, "\n", (row.scenario, "dim")), escape(row.verdict), rate,
                      "\n".join(spans))
    return table

@main.command()
@click.argument("run_a", type=click.Path(path_type=Path))
@click.argument("run_b", type=click.Path(path_type=Path))
@one_line_errors
def compare(run_a: Path, run_b: Path) -> None:
    """Milestones, intervals, impact and checks of two recordings side by side, with the differences."""
    from lab.judge.verdict import summary_of
    from lab.report.runs import compare as compare_summaries

    rows = compare_summaries(summary_of(run_dir_argument(run_a)), summary_of(run_dir_argument(run_b)))
    table = Table()
    for column in ("section", "what", run_a.name, run_b.name, "B - A"):
        table.add_column(escape(column))
    for row in rows:
        table.add_row(*map(escape, (row.section, row.name, row.a, row.b, row.difference)))
    terminal().print(table)
