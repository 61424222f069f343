"""`lab drill` and what its trainee types from another terminal (`ack`, `note`, `hint`, `give-up`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lab.cli.base import allow_scripts_option, main, one_line_errors, settings_allowing
from lab.drill.control import send as send_to_drill
from lab.drill.history import checked_trainee, recent_scenarios
from lab.errors import InvalidInput, NothingRunning
from lab.play.console import terminal
from lab.scenario import library
from lab.scenario.causes import CAUSES
from lab.scenario.reader import load, resolve
from lab.scenario.timing import MAX_LAB_S
from lab.settings import Settings


@main.command()
@click.argument("scenario_ref", metavar="[SCENARIO]", required=False)
@click.option("--random", "at_random", is_flag=True, help="Draw the scenario from the library; you are not told which.")
@click.option("--difficulty", type=click.Choice(library.DIFFICULTIES), help="With --random: only this difficulty.")
@click.option("--cause", type=click.Choice(tuple(CAUSES)), help="With --random: only this cause class (`lab scenarios "
                                                                "--help` says what each means).")
@click.option("--trainee", metavar="NAME", help="Who drills (letters, digits, . _ -): the drill is kept in their "
                                                "history; with --random, none of their last five drills' incidents is "
                                                "drawn while another is left.")
@click.option("--seed", type=int, help="Seed of the draw and of the moment the fault lands (default: 0; with "
                                       "--random, a fresh draw each time).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Run directory.")
@click.option("--inject-after", type=click.FloatRange(min=0), help="Land the fault after exactly S seconds.")
@click.option("--max-duration", type=click.FloatRange(min=0, min_open=True), help="Give the trainee at most S seconds.")
@allow_scripts_option
@one_line_errors
def drill(scenario_ref: str | None, at_random: bool, difficulty: str | None, cause: str | None, trainee: str | None,
          seed: int | None, out_dir: Path | None, inject_after: float | None, max_duration: float | None,
          script_dirs: tuple[Path, ...]) -> None:
    """On-call drill: the scenario's fault lands unannounced; find it and fix it from another terminal."""
    from lab.drill.run import run_drill
    from lab.drill.trainee import DrillOptions

    settings = settings_allowing(script_dirs)
    for option, seconds in (("--inject-after", inject_after), ("--max-duration", max_duration)):
        if seconds is not None and not seconds <= MAX_LAB_S:  # a range lets inf and nan through
            raise InvalidInput(f"{option} must be at most a day ({MAX_LAB_S} s), got {seconds}")
    if at_random == (scenario_ref is not None):
        raise InvalidInput("name a SCENARIO, or give --random (not both)")
    for option, value in (("--difficulty", difficulty), ("--cause", cause)):
        if value is not None and not at_random:
            raise InvalidInput(f"{option} goes with --random")
    if trainee is not None:
        checked_trainee(trainee)
    if scenario_ref is not None:
        loaded = load(resolve(scenario_ref, settings.scenario_dirs))
    else:
        recent = recent_scenarios(settings.runs_dir, trainee) if trainee is not None else []
        loaded = library.pick_at_random(settings.scenario_dirs, difficulty, seed, cause, recent)
    options = DrillOptions(seed or 0, out_dir, inject_after, max_duration, hidden=at_random, trainee=trainee)
    result = run_drill(loaded, settings, options, terminal())
    sys.exit(0 if result.outcome == "fixed" else 1)

def drill_request(op: str, **fields: object) -> str:
    reply = send_to_drill(Settings.from_env().runs_dir, {"op": op, **fields})
    if not reply.get("ok"):
        refusal = NothingRunning if reply.get("nothing_to_act_on") else InvalidInput
        raise refusal(str(reply.get("error", "the drill refused the request")))
    return str(reply.get("message", "ok"))

@main.command()
@one_line_errors
def ack() -> None:
    """Acknowledge the drill's alert (recorded on the timeline); before any alert has fired: exit 4."""
    click.echo(drill_request("ack"))

@main.command()
@click.argument("text", nargs=-1, required=True)
@one_line_errors
def note(text: tuple[str, ...]) -> None:
    """Add a line to the drill's timeline, like an incident scribe."""
    click.echo(drill_request("note", text=" ".join(text)))

@main.command()
@click.argument("service")
@click.argument("release")
@one_line_errors
def deploy(service: str, release: str) -> None:
    """Deploy RELEASE to SERVICE in the running drill (`current`: the stack's own, a rollback); `lab releases` lists
    them. The drill performs it, where the stack's configuration is, and records it on the timeline."""
    click.echo(drill_request("deploy", service=service, release=release))

@main.command()
@one_line_errors
def hint() -> None:
    """Reveal the drill's next hint (counted in the debrief)."""
    click.echo(drill_request("hint"))

@main.command("give-up")
@one_line_errors
def give_up() -> None:
    """Reveal the drill's cause and revert it."""
    click.echo(drill_request("give-up"))
