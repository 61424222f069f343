"""The scenario commands: check a scenario (`validate`), the incident library (`scenarios`), start one from a
postmortem (`new`) or for a team's Compose file (`init`), and the catalogs a scenario is written with (`faults`,
`schema`)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from lab.cli.base import allow_scripts_option, listing_table, main, one_line_errors, settings_allowing
from lab.errors import InvalidInput, LabError, ScenarioError
from lab.faults import families as fault_families
from lab.play.console import terminal
from lab.play.preflight import script_problems
from lab.scenario import library, starter
from lab.scenario.causes import CAUSES, CAUSES_HELP, shown
from lab.scenario.names import NAME
from lab.scenario.pacing import largest_allowed
from lab.scenario.postmortem import write_skeleton
from lab.scenario.reader import load, resolve_all
from lab.scenario.rule_files import rule_problems
from lab.scenario.schema import json_schema
from lab.settings import Settings
from lab.stack.releases import BUILTIN_RELEASES, CURRENT


@main.command()
@click.argument("scenario_ref", metavar="SCENARIO")
@allow_scripts_option
@one_line_errors
def validate(scenario_ref: str, script_dirs: tuple[Path, ...]) -> None:
    """Check a scenario file (a name, a path, or a directory of them) and its runbook scripts, without starting
    anything."""
    settings = settings_allowing(script_dirs)
    paths = resolve_all(scenario_ref, settings.scenario_dirs)
    failures: list[LabError] = []
    for path in paths:
        try:
            loaded = load(path)
        except InvalidInput as exc:
            failures.append(exc)
            continue
        unrunnable = script_problems(loaded, settings.script_dirs) + rule_problems(loaded)
        if unrunnable:
            failures.append(ScenarioError(str(path), unrunnable))
            continue
        click.echo(f"ok: {loaded.name}: {len(loaded.timeline)} steps, {len(loaded.faults)} fault(s), "
                   f"{loaded.duration_s:.0f} s at speed 1, largest speed {largest_allowed(loaded):g}")
        if not loaded.faults:
            click.echo(f"lab: warning: {path}: faults: none yet: add the incident's fault and its apply step "
                       "(`lab faults` lists the families)", err=True)
    for failure in failures[:-1]:
        click.echo(f"lab: error: {failure}", err=True)
    if failures:
        raise failures[-1]

@main.command(epilog=CAUSES_HELP)
@click.option("--cause", type=click.Choice(tuple(CAUSES)), help="Only the scenarios of this cause class.")
@one_line_errors
def scenarios(cause: str | None) -> None:
    """The incident library: the built-in scenarios, and LAB_SCENARIOS_DIR's before them."""
    directories = Settings.from_env().scenario_dirs
    terminal().print(scenarios_table(library.of_cause(library.entries(directories), cause)))

def scenarios_table(entries: list[library.Entry]) -> Table:
    """One row per scenario, readable at 80 columns (a pipe's, CI's): the words (name, title, faults, source) share
    the one column that wraps, so the figures beside them keep their width; a name longer than that column folds
    onto the next line rather than lose its end. The cause class is under the difficulty, on the title's line."""
    table = listing_table()
    table.add_column("scenario", overflow="fold", max_width=72)  # wide terminals too: lines to read, not a stretch
    table.add_column("difficulty\ncause", no_wrap=True)  # stacked: a column of its own would fold a long name at 80
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
                      f"{found.difficulty}\n{shown(found.cause)}",
                      f"{int(minutes // 60)} h {int(minutes % 60):02d} min", f"{found.duration_s:.0f} s")
    return table

@main.command()
@click.argument("name")
@click.option("--from-postmortem", "postmortem", required=True, type=click.Path(path_type=Path),
              help="A postmortem in text or Markdown: its timestamped lines become the timeline.")
@click.option("--out", "out_path", type=click.Path(path_type=Path), help="Where to write it (default: NAME.yaml).")
@one_line_errors
def new(name: str, postmortem: Path, out_path: Path | None) -> None:
    """Start a scenario from a postmortem: its timeline as notes at their offsets, title and summary; the fault and
    its cause class are left for you to fill in."""
    if not NAME.fullmatch(name):
        raise InvalidInput(f"NAME must be lowercase letters, digits and dashes, got {name!r}")
    written = write_skeleton(name, postmortem, out_path or Path(f"{name}.yaml"))
    found = load(written)
    click.echo(f"wrote {written}: {len(found.timeline)} timeline entries from {found.time.incident_start}; "
               "now add the fault (`lab faults`), its cause class (`lab scenarios --help`), the runbook steps and the "
               "checks, then `lab validate` it")

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
@one_line_errors
def releases() -> None:
    """The built-in stack's releases a `deploy` step or a `release` fault may roll an app replica to (a team's
    stack names its own under `stack.releases`)."""
    click.echo(f"{CURRENT}: the stack's own, what every replica runs at the start (deploying it is a rollback)")
    for name, release in BUILTIN_RELEASES.items():
        changes = ", ".join(f"{key}={'(unset)' if value is None else value}"
                            for key, value in release.environment.items())
        click.echo(f"{name}: {release.description}")
        click.echo(f"    changes: {changes}")

@main.command()
@click.option("--out", "out_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the schema here (default: standard output).")
@one_line_errors
def schema(out_path: Path | None) -> None:
    """The JSON Schema of scenario files (every fault family's parameters included), for editors and CI."""
    text = json_schema()
    if out_path is None:
        click.echo(text, nl=False)
        return
    try:
        out_path.write_text(text)
    except OSError as exc:
        raise InvalidInput(f"cannot write {out_path}: {exc.strerror or exc}") from exc
    click.echo(f"wrote {out_path}")
