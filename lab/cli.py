"""Command line: parse arguments, call the core, turn a LabError into one line and its exit code. No logic.

The runner, the drill and the reports (with their chart library) are imported by the commands that use them:
what a trainee types in the middle of a drill (`lab exec`, `lab ack`, a runbook's `lab exec`) must start fast.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, TypeVar

import click
from rich import box
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from lab import __version__
from lab.clock import MonotonicClock
from lab.drill.control import read_active as read_active_drill
from lab.drill.control import send as send_to_drill
from lab.errors import (
    EXIT_ENVIRONMENT,
    EXIT_READER_GONE,
    EXIT_SIGINT,
    InvalidInput,
    LabError,
    NothingRunning,
    ScenarioError,
)
from lab.faults import families as fault_families
from lab.judge.verdict import load_run
from lab.play.console import terminal
from lab.scenario import document as scenario
from lab.scenario import library, starter
from lab.scenario.postmortem import write_skeleton
from lab.settings import Settings
from lab.stack import commands as lifecycle
from lab.stack import images as images_module
from lab.stack.engine import ENGINE_ERRORS, engine_failed
from lab.stack.exec import run_in_service
from lab.stack.project import RESTART_WAIT_S

if TYPE_CHECKING:
    from lab.report.runs import RunRow

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


def progress(message: str) -> None:
    click.echo(f"lab: {message}", err=True)


def engine() -> lifecycle.Engine:
    connected = lifecycle.Engine.connect(Settings.from_env())
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


@main.group()
def images() -> None:
    """The lab's container images (built locally, never pulled in offline mode)."""


@images.command("build")
@one_line_errors
def images_build() -> None:
    """Build the base, db, app, lb and tools images (only those whose inputs changed)."""
    built = lifecycle.ensure_images(engine(), progress)
    for name in ("base", "db", "app", "lb", "tools"):
        click.echo(f"{name:6} {getattr(built, name)}")


@images.command("prune")
@one_line_errors
def images_prune() -> None:
    """Remove the lab's images that the current inputs no longer use (older builds)."""
    removed, in_use = images_module.prune_images(engine().client, Settings.from_env())
    for tag in removed:
        click.echo(f"removed  {tag}")
    for tag in in_use:
        click.echo(f"in use   {tag} (kept)")
    if not removed and not in_use:
        click.echo("no outdated lab images")


@main.command()
@click.option("--lb-port", type=click.IntRange(1, 65535), help="Host port for the load balancer (default: a free one).")
@click.option("--db-port", type=click.IntRange(1, 65535), help="Host port for PostgreSQL (default: a free one).")
@one_line_errors
def up(lb_port: int | None, db_port: int | None) -> None:
    """Start a stack and wait until every service is healthy."""
    stack = lifecycle.bring_up(engine().with_compose(), progress, lb_port=lb_port, db_port=db_port)
    endpoints = stack.endpoints()
    click.echo(f"run      {stack.run_id}")
    click.echo(f"lb       {endpoints.lb_url}")
    click.echo(f"db       postgresql://lab@127.0.0.1:{endpoints.db_host_port}/orders")
    for name, url in endpoints.app_urls.items():
        click.echo(f"{name:8} {url}")


@main.command()
@one_line_errors
def status() -> None:
    """Show every lab stack on this engine and the health of its services."""
    current = engine()
    runs = lifecycle.running_run_ids(current.client)
    if not runs:
        click.echo("no lab stack is running")
        return
    console = terminal()
    for run_id in runs:
        table = Table(title=escape(f"stack {run_id}"))
        for column in ("service", "state", "health", "ports"):
            table.add_column(column)
        for row in lifecycle.stack_status(current, run_id):
            table.add_row(*map(escape, (row.service, row.state, row.health, row.ports)))
        console.print(table)


@main.command()
@click.option("--run", "run_id", help="Run id of the stack (needed when several are up).")
@one_line_errors
def down(run_id: str | None) -> None:
    """Remove a stack: its containers, networks and volumes."""
    removed = lifecycle.tear_down(engine(), run_id)
    click.echo(f"removed stack {removed}")


@main.command()
@click.option("--force", is_flag=True, help="Also remove runs whose `lab run` process is still alive.")
@one_line_errors
def clean(force: bool) -> None:
    """Remove lab stacks and fault helpers on this engine (found by label, nothing else).

    Runs still owned by a live `lab run` are left alone unless --force."""
    removed, skipped = lifecycle.clean_all(engine(), force=force)
    click.echo(f"removed {len(removed)} lab run(s)" + (f": {', '.join(removed)}" if removed else ""))
    if skipped:
        alive = ", ".join(skipped)
        click.echo(f"left {len(skipped)} run(s) whose lab process is alive: {alive} (--force removes them)")


@main.command()
@click.argument("scenario_ref", metavar="SCENARIO")
@one_line_errors
def validate(scenario_ref: str) -> None:
    """Check a scenario file (a name, a path, or a directory of them) and its runbook scripts, without starting
    anything."""
    from lab.play.preflight import script_problems

    settings = Settings.from_env()
    directory = Path(scenario_ref)
    paths = sorted(directory.glob("*.yaml")) if directory.is_dir() else [
        scenario.resolve(scenario_ref, settings.scenario_dirs)]
    if not paths:
        raise InvalidInput(f"no scenario file (*.yaml) in {directory}")
    failures: list[LabError] = []
    for path in paths:
        try:
            loaded = scenario.load(path)
        except InvalidInput as exc:
            failures.append(exc)
            continue
        unrunnable = script_problems(loaded)
        if unrunnable:
            failures.append(ScenarioError(str(path), unrunnable))
            continue
        click.echo(f"ok: {loaded.name}: {len(loaded.timeline)} steps, {len(loaded.faults)} fault(s), "
                   f"{loaded.duration_s:.0f} s at speed 1")
        if not loaded.faults:
            click.echo(f"lab: warning: {path}: faults: none yet: add the incident's fault and its apply step "
                       "(`lab faults` lists the families)", err=True)
    for failure in failures[:-1]:
        click.echo(f"lab: error: {failure}", err=True)
    if failures:
        raise failures[-1]


@main.command()
@one_line_errors
def scenarios() -> None:
    """The incident library: the built-in scenarios, and LAB_SCENARIOS_DIR's before them."""
    terminal().print(scenarios_table(library.entries(Settings.from_env().scenario_dirs)))


def scenarios_table(entries: list[library.Entry]) -> Table:
    """One row per scenario, readable at 80 columns (a pipe's, CI's): the words (name, title, faults, source) share
    the one column that wraps, so the figures beside them keep their width; a name longer than that column folds
    onto the next line rather than lose its end."""
    table = listing_table()
    table.add_column("scenario", overflow="fold", max_width=72)  # wide terminals too: lines to read, not a stretch
    table.add_column("difficulty", no_wrap=True)
    table.add_column("incident", no_wrap=True)
    table.add_column("lab (speed 1)", width=9)
    for entry in entries:
        if entry.scenario is None:
            table.add_row(Text.assemble((entry.name, "bold"), "\n", ("invalid", "red"), f": {entry.problem}\n",
                                        (str(entry.path), "dim")))
            continue
        found = entry.scenario
        minutes = entry.incident_minutes
        table.add_row(Text.assemble((found.name, "bold"), f"\n{found.title}\n",
                                    (f"faults: {', '.join(entry.fault_kinds) or '-'}\n{found.source}", "dim")),
                      found.difficulty, f"{int(minutes // 60)} h {int(minutes % 60):02d} min",
                      f"{found.duration_s:.0f} s")
    return table


def listing_table() -> Table:
    """A listing's frame: rules between its entries of several lines, no side borders (columns for the text)."""
    return Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, show_lines=True)


@main.command()
@click.argument("name")
@click.option("--from-postmortem", "postmortem", required=True, type=click.Path(path_type=Path),
              help="A postmortem in text or Markdown: its timestamped lines become the timeline.")
@click.option("--out", "out_path", type=click.Path(path_type=Path), help="Where to write it (default: NAME.yaml).")
@one_line_errors
def new(name: str, postmortem: Path, out_path: Path | None) -> None:
    """Start a scenario from a postmortem: its timeline as notes at their offsets, title and summary; the fault is
    left for you to fill in."""
    if not scenario.NAME.fullmatch(name):
        raise InvalidInput(f"NAME must be lowercase letters, digits and dashes, got {name!r}")
    written = write_skeleton(name, postmortem, out_path or Path(f"{name}.yaml"))
    found = scenario.load(written)
    click.echo(f"wrote {written}: {len(found.timeline)} timeline entries from {found.time.incident_start}; "
               "now add the fault (`lab faults`), the runbook steps and the checks, then `lab validate` it")


@main.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
              help="The repository with the Compose file (default: here).")
@one_line_errors
def init(directory: Path) -> None:
    """Start using the lab on your own stack: a starter scenario for the Compose file found here and a CI workflow
    example (GitHub Actions) that runs it and keeps junit.xml and report.html."""
    for path in starter.init(directory):
        click.echo(f"wrote {path}")
    click.echo("next: adapt the scenario (fault, timeline, runbook, checks), then `lab validate` and `lab run` it")


@main.command()
@one_line_errors
def faults() -> None:
    """The fault families: what each does, how, and its parameters (beside id, kind, target, ttl_s, description)."""
    for family in fault_families().values():
        click.echo(f"{family.kind}: {family.summary}")
        click.echo(f"    how: {family.mechanism}")
        click.echo(f"    users see: {family.user_sees}")
        for parameter in family.parameters():
            default = "required" if parameter.required else f"default {parameter.default}"
            click.echo(f"    {parameter.name} ({parameter.type}; {default}): {parameter.description}")
        click.echo("")


@main.command()
@click.option("--out", "out_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the schema here (default: standard output).")
@one_line_errors
def schema(out_path: Path | None) -> None:
    """The JSON Schema of scenario files (every fault family's parameters included), for editors and CI."""
    text = scenario.json_schema()
    if out_path is None:
        click.echo(text, nl=False)
        return
    try:
        out_path.write_text(text)
    except OSError as exc:
        raise InvalidInput(f"cannot write {out_path}: {exc.strerror or exc}") from exc
    click.echo(f"wrote {out_path}")


@main.command(epilog=EXIT_CODES_HELP)
@click.argument("scenario_ref", metavar="SCENARIO")
@click.option("--speed", type=float, default=1.0, show_default=True,
              help="Play the incident N times faster than the scenario's own time scale.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Run directory (default: runs/<utc>-<name>).")
@click.option("--rate", type=float, help=f"Synthetic requests per second (default: the scenario's; at most "
                                          f"{scenario.MAX_RATE:g}, the highest rate measured to pass).")
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
    from lab.play.run import RunOptions, run_scenario

    settings = Settings.from_env()
    loaded = scenario.load(scenario.resolve(scenario_ref, settings.scenario_dirs))
    if runbook_file is not None:
        if not runbook_file.is_file():
            raise InvalidInput(f"runbook file {runbook_file} does not exist")
        loaded = loaded.with_runbook(scenario.load_runbook(runbook_file, loaded.topology), str(runbook_file))
    if variant is not None:
        loaded = loaded.with_variant(variant)
    loaded = loaded.with_speed(speed)
    result = run_scenario(loaded, settings, RunOptions(speed=speed, out_dir=out_dir, rate=rate, seed=seed), terminal())
    sys.exit(result.exit_code)


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@one_line_errors
def report(run_dir: Path) -> None:
    """Write report.html and postmortem.md for RUN_DIR (re-judging its recording; works on partial ones)."""
    from lab.report.build import make_reports

    made = make_reports(_run_dir(run_dir))
    click.echo(f"{made.html}\n{made.postmortem}\n(rendered in {made.render_s:.2f} s)")


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--speed", type=float, default=10.0, show_default=True,
              help=f"Replay N times faster than the recording (at least {scenario.MIN_SPEED:g}).")
@one_line_errors
def replay(run_dir: Path, speed: float) -> None:
    """Play a recording back in the terminal: events as they happened, with live error rate and latency."""
    from lab.report.replay import replay as replay_recording

    scenario.check_speed(speed)
    _, events = load_run(_run_dir(run_dir))
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
    from lab.report.runs import compare as compare_summaries
    from lab.report.runs import load_summary

    rows = compare_summaries(load_summary(_run_dir(run_a)), load_summary(_run_dir(run_b)))
    table = Table()
    for column in ("section", "what", run_a.name, run_b.name, "B - A"):
        table.add_column(escape(column))
    for row in rows:
        table.add_row(*map(escape, (row.section, row.name, row.a, row.b, row.difference)))
    terminal().print(table)


def _run_dir(path: Path) -> Path:
    try:
        found = path.is_dir()
    except OSError as exc:  # a name too long, say: is_dir answers False only for what does not exist
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not found:
        raise InvalidInput(f"no run directory at {path}")
    return path


@main.command()
@click.argument("scenario_ref", metavar="[SCENARIO]", required=False)
@click.option("--random", "at_random", is_flag=True, help="Draw the scenario from the library; you are not told which.")
@click.option("--difficulty", type=click.Choice(library.DIFFICULTIES), help="With --random: only this difficulty.")
@click.option("--seed", type=int, help="Seed of the draw and of the moment the fault lands (default: 0; with "
                                       "--random, a fresh draw each time).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Run directory.")
@click.option("--inject-after", type=click.FloatRange(min=0), help="Land the fault after exactly S seconds.")
@click.option("--max-duration", type=click.FloatRange(min=0, min_open=True), help="Give the trainee at most S seconds.")
@one_line_errors
def drill(scenario_ref: str | None, at_random: bool, difficulty: str | None, seed: int | None, out_dir: Path | None,
          inject_after: float | None, max_duration: float | None) -> None:
    """On-call drill: the scenario's fault lands unannounced; find it and fix it from another terminal."""
    from lab.drill.launch import run_drill
    from lab.drill.trainee import DrillOptions

    settings = Settings.from_env()
    for option, seconds in (("--inject-after", inject_after), ("--max-duration", max_duration)):
        if seconds is not None and not seconds <= scenario.MAX_LAB_S:  # a range lets inf and nan through
            raise InvalidInput(f"{option} must be at most a day ({scenario.MAX_LAB_S} s), got {seconds}")
    if at_random == (scenario_ref is not None):
        raise InvalidInput("name a SCENARIO, or give --random (not both)")
    if difficulty is not None and not at_random:
        raise InvalidInput("--difficulty goes with --random")
    if scenario_ref is not None:
        loaded = scenario.load(scenario.resolve(scenario_ref, settings.scenario_dirs))
    else:
        loaded = library.pick_at_random(settings.scenario_dirs, difficulty, seed)
    options = DrillOptions(seed or 0, out_dir, inject_after, max_duration, hidden=at_random)
    result = run_drill(loaded, settings, options, terminal())
    sys.exit(0 if result.outcome == "fixed" else 1)


@main.command(epilog=EXIT_CODES_HELP)
@click.option("--trainees", type=click.IntRange(min=1), default=3, show_default=True, help="Drills at once, one each.")
@click.option("--scenario", "scenario_ref", metavar="SCENARIO", help="Every trainee drills this scenario.")
@click.option("--random", "random_draw", is_flag=True, help="Each trainee draws a scenario from the library "
                                                             "(the default without --scenario).")
@click.option("--difficulty", type=click.Choice(library.DIFFICULTIES), help="Draw only scenarios of this difficulty.")
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
@one_line_errors
def gameday(trainees: int, scenario_ref: str | None, random_draw: bool, difficulty: str | None, seed: int,
            engines_file: Path | None, host: str, port: int, inject_after: float | None, max_duration: float | None,
            out_dir: Path | None, measure: bool) -> None:
    """Game day: several trainees drill at once, each on their own stack and browser tab, a facilitator watching.

    Prints the facilitator's URL and one per trainee (each with its secret token), and serves until the facilitator
    closes the game day. Beyond 127.0.0.1 (--host) every page also needs the password in LAB_GAMEDAY_PASSWORD."""
    from lab.gameday.run import GameDayOptions, run_gameday
    from lab.gameday.scoreboard import render_markdown as render_scoreboard

    if scenario_ref is not None and (random_draw or difficulty):
        raise InvalidInput("--scenario does not go with --random or --difficulty")
    options = GameDayOptions(trainees=trainees, scenario=scenario_ref, difficulty=difficulty, seed=seed,
                             engines_file=engines_file, host=host, port=port,
                             password=os.environ.get("LAB_GAMEDAY_PASSWORD") or None, inject_after_s=inject_after,
                             max_duration_s=max_duration, out_dir=out_dir, remeasure=measure)
    result = run_gameday(options, Settings.from_env(), progress)
    click.echo(render_scoreboard(result.scoreboard), nl=False)
    progress(f"game day records in {result.directory}")


def _drill_request(op: str, **fields: object) -> str:
    reply = send_to_drill(Settings.from_env().runs_dir, {"op": op, **fields})
    if not reply.get("ok"):
        refusal = NothingRunning if reply.get("nothing_to_act_on") else InvalidInput
        raise refusal(str(reply.get("error", "the drill refused the request")))
    return str(reply.get("message", "ok"))


@main.command()
@one_line_errors
def ack() -> None:
    """Acknowledge the drill's alert (recorded on the timeline); before any alert has fired: exit 4."""
    click.echo(_drill_request("ack"))


@main.command()
@click.argument("text", nargs=-1, required=True)
@one_line_errors
def note(text: tuple[str, ...]) -> None:
    """Add a line to the drill's timeline, like an incident scribe."""
    click.echo(_drill_request("note", text=" ".join(text)))


@main.command()
@one_line_errors
def hint() -> None:
    """Reveal the drill's next hint (counted in the debrief)."""
    click.echo(_drill_request("hint"))


@main.command("give-up")
@one_line_errors
def give_up() -> None:
    """Reveal the drill's cause and revert it."""
    click.echo(_drill_request("give-up"))


def _stack_for_commands(run_id: str | None) -> tuple[lifecycle.Engine, str, str | None]:
    """(engine, run id, tools image): the named stack, else the active drill's, else the only `lab up` one."""
    current = engine()
    settings = Settings.from_env()
    if run_id is None:
        try:
            active = read_active_drill(settings.runs_dir)
            return current, active.run_id, active.tools_image
        except LabError:
            pass
    built = images_module.built_images(current.client, settings)
    return current, lifecycle.pick_run_for_commands(current.client, run_id), built.tools if built else None


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--netns", is_flag=True, help="Run CMD in a tools container in SERVICE's network namespace "
                                             "(iptables, ip, ss; NET_ADMIN only).")
@click.option("--run", "run_id", help="Run id (default: the active drill, or the only `lab up` stack).")
@click.argument("service")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@one_line_errors
def exec(netns: bool, run_id: str | None, service: str, command: tuple[str, ...]) -> None:
    """Run COMMAND (argv, no shell) in SERVICE of the lab stack; recorded on a drill's timeline."""
    current, chosen, tools = _stack_for_commands(run_id)
    stack = current.stack(chosen)
    if netns and tools is None:
        raise InvalidInput("no tools image: run `lab images build`")
    result = run_in_service(stack, service, list(command), tools if netns else None)
    click.echo(result.output, nl=False)
    with contextlib.suppress(LabError):  # outside a drill there is no timeline to record on
        _drill_request("exec", service=service, command=list(command), netns=netns, exit_code=result.exit_code)
    sys.exit(result.exit_code)


@main.command()
@click.option("--run", "run_id", help="Run id (default: the active drill, or the only `lab up` stack).")
@click.option("--tail", type=int, default=50, show_default=True)
@click.argument("service")
@one_line_errors
def logs(run_id: str | None, tail: int, service: str) -> None:
    """Show the last log lines of SERVICE (in a drill: recorded on the timeline)."""
    current, chosen, _ = _stack_for_commands(run_id)
    click.echo(current.stack(chosen).container(service).logs(tail=tail).decode(errors="replace"), nl=False)
    with contextlib.suppress(LabError):  # outside a drill there is no timeline to record on
        _drill_request("logs", service=service)


@main.command()
@click.option("--run", "run_id", help="Run id (default: the active drill, or the only `lab up` stack).")
@click.option("--wait-s", type=click.FloatRange(min=0), default=RESTART_WAIT_S, show_default=True,
              help="How long to wait until SERVICE serves again (0: return once Docker has restarted it).")
@click.argument("service")
@one_line_errors
def restart(run_id: str | None, wait_s: float, service: str) -> None:
    """Restart SERVICE and wait until it serves again: the built-in stack's services answer the lab's own probe, a
    team's are healthy (running, without a health check). In a drill: recorded as a mitigation tried. A service
    that does not serve within --wait-s exits 3 with what it last logged."""
    current, chosen, _ = _stack_for_commands(run_id)
    stack = current.stack(chosen)
    clock = MonotonicClock()
    stack.restart(service)
    if not wait_s:
        click.echo(f"restarted {service}")
        return
    stack.wait_serving(service, timeout_s=wait_s)
    click.echo(f"restarted {service}: serving again {clock.now():.1f} s after the restart began")


@main.command()
@one_line_errors
def doctor() -> None:
    """Check this machine: Docker daemon, Compose v2, base image, lab images. Each failure comes with its fix."""
    checks = lifecycle.doctor(Settings.from_env())
    for check in checks:
        mark = "ok  " if check.ok else "FAIL"
        click.echo(f"{mark} {check.name:14} {check.detail}" + (f"  -> fix: {check.fix}" if check.fix else ""))
    if not all(check.ok for check in checks):
        sys.exit(EXIT_ENVIRONMENT)


def entry() -> NoReturn:
    """The `lab` command: `main`, then a quick exit. The interpreter's own shutdown (freeing the 800 modules and the
    recording a run holds) took 0.3-0.8 s after every command, with nothing left to do by then: a command returns
    once its files are closed, its stack removed and the threads doing that joined (a daemon thread still running
    then, such as a load generator's after a failure, is only ended sooner). Click's own usage errors (an unknown
    option, a value of the wrong type) end in one line too, as every other failure a user can cause.

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


if __name__ == "__main__":  # pragma: no cover
    entry()
