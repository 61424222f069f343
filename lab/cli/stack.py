"""The stack commands: the lab's images, a stack to play with by hand (`up`, `status`, `down`), `clean`, `doctor`, and
what a person on call types at a stack (`exec`, `logs`, `restart`: recorded on a drill's timeline)."""

from __future__ import annotations

import contextlib
import sys

import click
from rich.markup import escape
from rich.table import Table

from lab.cli.base import engine, main, one_line_errors, progress
from lab.cli.drill import drill_request
from lab.clock import MonotonicClock
from lab.drill.control import read_active as read_active_drill
from lab.errors import EXIT_ENVIRONMENT, InvalidInput, LabError
from lab.play.console import terminal
from lab.settings import Settings
from lab.stack import cleanup, lifecycle, observability
from lab.stack import doctor as machine
from lab.stack import images as images_module
from lab.stack.engine import Engine
from lab.stack.exec import run_in_service
from lab.stack.project import RESTART_WAIT_S
from lab.stack.runs import pick_run_for_commands, running_run_ids


@main.group()
def images() -> None:
    """The lab's container images (built locally, never pulled in offline mode)."""

@images.command("build")
@one_line_errors
def images_build() -> None:
    """Build the lab's images on its base image: db, app, lb, tools, reaper and observe (only those whose inputs
    changed)."""
    built = engine().images(progress)
    for name in ("base", *images_module.IMAGE_NAMES):
        click.echo(f"{name:7} {getattr(built, name)}")


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
@click.option("--observe", is_flag=True, help="With Prometheus (scraping the apps, HAProxy and PostgreSQL) and "
                                              "Alertmanager.")
@one_line_errors
def up(lb_port: int | None, db_port: int | None, observe: bool) -> None:
    """Start a stack and wait until every service is healthy."""
    stack = lifecycle.bring_up(engine().with_compose(), progress, lb_port=lb_port, db_port=db_port, observe=observe)
    endpoints = stack.endpoints()
    click.echo(f"run      {stack.run_id}")
    click.echo(f"lb       {endpoints.lb_url}")
    click.echo(f"db       postgresql://lab@127.0.0.1:{endpoints.db_host_port}/orders")
    for name, url in endpoints.app_urls.items():
        click.echo(f"{name:8} {url}")
    observed = observability.urls(stack.containers())
    if observed is not None:
        click.echo(f"prometheus   {observed.prometheus}")
        click.echo(f"alertmanager {observed.alertmanager}")

@main.command()
@one_line_errors
def status() -> None:
    """Show every lab stack on this engine and the health of its services."""
    current = engine()
    runs = running_run_ids(current.client)
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
    removed = cleanup.take_down(engine().client, run_id)
    click.echo(f"removed stack {removed}")

@main.command()
@click.option("--force", is_flag=True, help="Also remove runs whose `lab run` process is still alive.")
@one_line_errors
def clean(force: bool) -> None:
    """Remove lab stacks and fault helpers on this engine (found by label, nothing else).

    Runs still owned by a live `lab run` are left alone unless --force."""
    removed, skipped = cleanup.clean_all(engine().client, force=force)
    click.echo(f"removed {len(removed)} lab run(s)" + (f": {', '.join(removed)}" if removed else ""))
    if skipped:
        alive = ", ".join(skipped)
        click.echo(f"left {len(skipped)} run(s) whose lab process is alive: {alive} (--force removes them)")

@main.command()
@one_line_errors
def doctor() -> None:
    """Check this machine: Docker daemon, Compose v2, base image, lab images. Each failure comes with its fix."""
    checks = machine.doctor(Settings.from_env())
    for check in checks:
        mark = "ok  " if check.ok else "FAIL"
        click.echo(f"{mark} {check.name:14} {check.detail}" + (f"  -> fix: {check.fix}" if check.fix else ""))
    if not all(check.ok for check in checks):
        sys.exit(EXIT_ENVIRONMENT)

def _stack_for_commands(run_id: str | None) -> tuple[Engine, str, str | None]:
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
    return current, pick_run_for_commands(current.client, run_id), built.tools if built else None

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
        drill_request("exec", service=service, command=list(command), netns=netns, exit_code=result.exit_code)
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
        drill_request("logs", service=service)

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
