"""`lab run`: a scenario replayed, recorded and judged."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

import click

from lab.cli.base import (
    EXIT_CODES_HELP,
    allow_scripts_option,
    main,
    one_line_errors,
    progress,
    settings_allowing,
    speed_value,
)
from lab.play.console import terminal
from lab.record.rate_measure import unmeasured
from lab.scenario.reader import load, resolve
from lab.scenario.shaping import played
from lab.scenario.traffic import MAX_RATE


@main.command(epilog=EXIT_CODES_HELP)
@click.argument("scenario_ref", metavar="SCENARIO")
@click.option("--speed", default="1", show_default=True, metavar="N|max", callback=speed_value,
              help="Play the incident N times faster than the scenario's own time scale; `max`: the largest speed "
                   "at which it can still be judged.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Run directory (default: runs/<utc>-<name>).")
@click.option("--rate", type=float, help=f"Synthetic requests per second (default: the scenario's; at most "
                                          f"{MAX_RATE:g}; above what this machine was measured to carry, "
                                          "a warning says so).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the traffic mix.")
@click.option("--runbook", "runbook_file", type=click.Path(path_type=Path),
              help="Play the responders' steps of this runbook file instead of the scenario's own.")
@click.option("--variant", help="Play it on the stack a corrective measure changes (the scenario's variants).")
@allow_scripts_option
@one_line_errors
def run(scenario_ref: str, speed: float | Literal["max"], out_dir: Path | None, rate: float | None, seed: int,
        runbook_file: Path | None, variant: str | None, script_dirs: tuple[Path, ...]) -> None:
    """Replay SCENARIO on a fresh stack, record it, and judge it by the scenario's checks.

    Writes scenario.yaml, events.jsonl, summary.json and junit.xml to the run directory.
    """
    from lab.play.run import run_scenario

    settings = settings_allowing(script_dirs)
    loaded = played(load(resolve(scenario_ref, settings.scenario_dirs)), runbook=runbook_file, variant=variant,
                    rate=rate, speed=speed)
    beyond = unmeasured(settings.runs_dir, loaded.largest_rate)
    if beyond is not None:
        progress(f"warning: {beyond}: the generator's own check says after the run whether it kept up")
    sys.exit(run_scenario(loaded, settings, terminal(), out_dir=out_dir, seed=seed).exit_code)
