"""`lab run`: a scenario replayed, recorded and judged."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lab.cli.base import EXIT_CODES_HELP, main, one_line_errors
from lab.play.console import terminal
from lab.scenario.reader import load, resolve
from lab.scenario.shaping import played
from lab.scenario.traffic import MAX_RATE
from lab.settings import Settings


@main.command(epilog=EXIT_CODES_HELP)
@click.argument("scenario_ref", metavar="SCENARIO")
@click.option("--speed", type=float, default=1.0, show_default=True,
              help="Play the incident N times faster than the scenario's own time scale.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Run directory (default: runs/<utc>-<name>).")
@click.option("--rate", type=float, help=f"Synthetic requests per second (default: the scenario's; at most "
                                          f"{MAX_RATE:g}, the highest rate measured to pass).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the traffic mix.")
@click.option("--runbook", "runbook_file", type=click.Path(path_type=Path),
              help="Play the responders' steps of this runbook file instead of the scenario's own.")
@click.option("--variant", help="Play it on the stack a corrective measure changes (the scenario's variants).")
@one_line_errors
def run(scenario_ref: str, speed: float, out_dir: Path | None, rate: float | None, seed: int,
        runbook_file: Path | None, variant: str | None) -> None:
    """Replay SCENARIO on a fresh stack, record it, and judge it by the scenario's checks.

    Writes scenario.yaml, events.jsonl, summary.json and junit.xml to the run directory.
    """
    from lab.play.run import run_scenario

    settings = Settings.from_env()
    loaded = played(load(resolve(scenario_ref, settings.scenario_dirs)), runbook=runbook_file, variant=variant,
                    rate=rate, speed=speed)
    sys.exit(run_scenario(loaded, settings, terminal(), out_dir=out_dir, seed=seed).exit_code)
