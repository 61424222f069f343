"""`lab gameday`: several drills at once in the browser, with a facilitator's page."""

from __future__ import annotations

import os
from pathlib import Path

import click

from lab.cli.base import EXIT_CODES_HELP, allow_scripts_option, main, one_line_errors, progress, settings_allowing
from lab.errors import InvalidInput
from lab.scenario import library
from lab.scenario.causes import CAUSES


@main.command(epilog=EXIT_CODES_HELP)
@click.option("--trainees", type=click.IntRange(min=1), default=3, show_default=True, help="Drills at once, one each.")
@click.option("--scenario", "scenario_ref", metavar="SCENARIO", help="Every trainee drills this scenario.")
@click.option("--random", "random_draw", is_flag=True, help="Each trainee draws a scenario from the library "
                                                             "(the default without --scenario).")
@click.option("--difficulty", type=click.Choice(library.DIFFICULTIES), help="Draw only scenarios of this difficulty.")
@click.option("--cause", type=click.Choice(tuple(CAUSES)), help="Draw only scenarios of this cause class (`lab "
                                                                "scenarios --help` says what each means).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the draws (scenarios, faults, moments).")
@click.option("--engines", "engines_file", type=click.Path(path_type=Path, dir_okay=False), envvar="LAB_ENGINES_FILE",
              help="YAML file of Docker engines (contexts or DOCKER_HOST URLs) to spread the stacks over.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve the pages on.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port to serve on (default: a free one).")
@click.option("--inject-after", type=click.FloatRange(min=0), help="Land every fault after exactly S seconds.")
@click.option("--max-duration", type=click.FloatRange(min=0, min_open=True),
              help="Give each trainee at most S seconds.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Game day directory.")
@click.option("--measure", is_flag=True, help="Measure what one stack costs again, rather than use the last measure.")
@allow_scripts_option
@one_line_errors
def gameday(trainees: int, scenario_ref: str | None, random_draw: bool, difficulty: str | None, cause: str | None,
            seed: int, engines_file: Path | None, host: str, port: int, inject_after: float | None,
            max_duration: float | None, out_dir: Path | None, measure: bool, script_dirs: tuple[Path, ...]) -> None:
    """Game day: several trainees drill at once, each on their own stack and browser tab, a facilitator watching.

    Prints the facilitator's URL and one per trainee (each with its secret token), and serves until the facilitator
    closes the game day. Beyond 127.0.0.1 (--host) every page also needs the password in LAB_GAMEDAY_PASSWORD."""
    from lab.gameday.run import GameDayOptions, run_gameday
    from lab.gameday.scoreboard import render_markdown as render_scoreboard

    if scenario_ref is not None and (random_draw or difficulty or cause):
        raise InvalidInput("--scenario does not go with --random, --difficulty or --cause")
    options = GameDayOptions(trainees=trainees, scenario=scenario_ref, difficulty=difficulty, cause=cause, seed=seed,
                             engines_file=engines_file, host=host, port=port,
                             password=os.environ.get("LAB_GAMEDAY_PASSWORD") or None, inject_after_s=inject_after,
                             max_duration_s=max_duration, out_dir=out_dir, remeasure=measure)
    result = run_gameday(options, settings_allowing(script_dirs), progress)
    click.echo(render_scoreboard(result.scoreboard), nl=False)
    progress(f"game day records in {result.directory}")
