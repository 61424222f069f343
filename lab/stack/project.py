"""One lab stack: a Compose project of the run (the built-in stack's file or a team's, with the lab's override),
started with its reaper, waited for until every service serves, acted on by service name (label-checked), and
removed by label.

Use it as a context manager: a start that fails removes what it started."""

from __future__ import annotations

import contextlib
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import docker
from docker.errors import APIError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_after_delay, wait_fixed

from lab.errors import PortInUse, StackError
from lab.settings import Settings
from lab.stack import builtin, labels
from lab.stack.cleanup import remove_run
from lab.stack.compose import compose_command, run_compose
from lab.stack.databases import Databases
from lab.stack.docker_api import find_containers
from lab.stack.health import HealthWait, NotReadyYet
from lab.stack.images import UNBUILT, LabImages
from lab.stack.knobs import StackKnobs
from lab.stack.observability import compose_files as observability_files
from lab.stack.override import host_ports, write_override
from lab.stack.owners import DETACHED
from lab.stack.ports import ensure_port_free, free_port, host_port
from lab.stack.reaper import Reaper
from lab.stack.spec import StackSpec
from lab.stack.topology import ComposeTopology, read_topology

RESTART_STOP_S = 5
"""A restarted service gets this long to stop before Docker kills it."""
RESTART_WAIT_S = 60.0
"""How long a restart waits for the service to serve again."""


@dataclass(frozen=True)
class Endpoints:
    lb_url: str
    db_host_port: int
    app_urls: dict[str, str]


@dataclass
class Stack:
    client: docker.DockerClient
    compose_argv: list[str] | None
    """None: found on first use (lab.stack.compose.compose_command)."""
    settings: Settings
    run_id: str = field(default_factory=labels.new_run_id)
    images: LabImages | None = None
    db_password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    lb_port: int | None = None
    db_port: int | None = None
    health_timeout_s: float = 180.0
    owner: str = DETACHED
    """Owner token of the process the stack lives and dies with (see lab.stack.owners); "detached" for `lab up`."""
    reaper: Reaper | None = field(default=None, repr=False)
    knobs: StackKnobs = field(default_factory=StackKnobs)
    """The settings corrective measures change (health check depth, timeouts, pool): the built-in stack's."""
    spec: StackSpec = builtin.BUILTIN_STACK
    """Which stack: the built-in one, or a team's own Compose file (absolute path)."""
    compose_topology: ComposeTopology | None = field(default=None, repr=False)
    """The Compose file's topology, read when the stack first starts."""
    databases: Databases = field(init=False, repr=False)
    release_files: dict[str, Path] = field(default_factory=dict, repr=False)
    """Service -> the override of the release deployed to it (lab.stack.deploy), in every later Compose command."""
    observe: bool = False  # with the observability part: Prometheus, Alertmanager (lab.stack.observability)

    def __post_init__(self) -> None:
        self.databases = Databases(self.spec, (builtin.DB_ADMIN, self.db_password), self.container)

    @property
    def project(self) -> str:
        return labels.project_name(self.run_id)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.down()

    def start(self) -> Stack:
        """Start the run's reaper (an owned stack goes if its owner dies, see lab.stack.reaper), then the stack. The
        Compose file is read while the reaper's container starts, and its program starts while the stack does;
        nothing is created before its container runs attached to this process."""
        try:
            with ThreadPoolExecutor(max_workers=1) as pool:
                reaper = pool.submit(self._launch_reaper)
                try:
                    self._read_topology()
                finally:
                    self.reaper = reaper.result()
            self.up()
            if self.reaper is not None:
                self.reaper.confirm_ready()
        except BaseException:
            self.down()
            raise
        return self

    def up(self) -> None:
        """Start and wait until every service serves. The entry and database host ports are picked free here (unless
        given) rather than left to Docker, whose ephemeral ports change when a container restarts: a scenario that
        restarts the LB would otherwise lose its own traffic."""
        if self.images is None:
            raise StackError("no images given: run `lab images build` first")
        for port in (self.lb_port, self.db_port):
            if port is not None:
                ensure_port_free(port)
        self._read_topology()
        pick_lb, pick_db = self.lb_port is None, self.db_port is None
        Retrying(stop=stop_after_attempt(3 if pick_lb or pick_db else 1), retry=retry_if_exception_type(PortInUse),
                 reraise=True)(self._start, pick_lb, pick_db)
        self.wait_healthy(self.spec.wait or None, poll_s=0.1)  # the services start together, healthy in a second or two
        if self.spec.builtin:
            builtin.wait_in_rotation(self)

    def down(self) -> None:
        """Remove the run (lab.stack.cleanup.remove_run), its reaper last."""
        reaper, self.reaper = self.reaper, None
        remove_run(self.client, self.run_id, reaper)

    def wait_healthy(self, services: tuple[str, ...] | None = None, timeout_s: float | None = None,
                     poll_s: float = 0.5) -> None:
        """Until every one of `services` (default: all of the stack's) is running, and serves (lab.stack.health);
        StackError at once if one exited or vanished, with its last log lines."""
        if services is None:
            services = tuple(self.compose_topology.services) if self.compose_topology else builtin.SERVICES
        timeout_s = min(self.health_timeout_s, self.spec.wait_timeout_s) if timeout_s is None else timeout_s
        retrying = Retrying(stop=stop_after_delay(timeout_s), wait=wait_fixed(poll_s),
                            retry=retry_if_exception_type(NotReadyYet), reraise=True)
        wait = HealthWait(self, services)
        try:
            retrying(wait.check)
        except NotReadyYet:
            try:  # the last poll may have judged by what the engine said up to half a second before
                wait.check(fresh=True)
            except NotReadyYet as exc:
                raise StackError(f"stack {self.run_id} not healthy after {timeout_s:g} s: {exc.with_last_words()}") \
                    from exc

    def ready(self, service: str, container: Any) -> bool:
        """The lab's own probe (the built-in stack's services only): a team's are ready when Docker says so."""
        return self.spec.builtin and builtin.ready(self, service, container)

    def restart(self, service: str) -> None:
        """Restart `service` (RESTART_STOP_S to stop before Docker kills it); StackError if the engine refuses."""
        try:
            self.container(service).restart(timeout=RESTART_STOP_S)
        except APIError as exc:
            raise StackError(f"restart of {service} failed: {exc.explanation or exc}") from exc

    def wait_serving(self, service: str, timeout_s: float = RESTART_WAIT_S) -> None:
        """Until a restarted `service` serves again (wait_healthy, the lab's probe asked every 0.1 s)."""
        self.wait_healthy((service,), timeout_s=timeout_s, poll_s=0.1)

    def start_stopped(self, services: tuple[str, ...], timeout_s: float = 60) -> list[str]:
        """Start those of `services` that are not running (an engine restart stops them all) and wait until they
        serve. Returns the ones started."""
        started = [name for name in services if self.container(name).status != "running"]
        for name in started:
            self.container(name).start()
        if started:
            self.wait_healthy(tuple(started), timeout_s=timeout_s, poll_s=0.2)
        return started

    def containers(self) -> dict[str, Any]:
        """Service name → container, for this run's containers only."""
        found = find_containers(self.client, labels.run_filter(self.run_id, labels.ROLE_STACK))
        return {c.labels[labels.COMPOSE_SERVICE]: c for c in found if labels.COMPOSE_SERVICE in c.labels}

    def container(self, service: str) -> Any:
        containers = self.containers()
        if service not in containers:
            known = ", ".join(sorted(containers)) or "none"
            raise StackError(f"no service {service!r} in stack {self.run_id} (services: {known})")
        container = containers[service]
        labels.ensure_owned(container.labels, self.run_id, f"container {container.name}")
        return container

    def endpoints(self) -> Endpoints:
        """Where the lab reaches the stack from this host: the entry (`lb_url`), the first database, and the app
        services that publish a port (the built-in replicas do, on ephemeral ports)."""
        containers = self.containers()
        entry, apps = self.spec.entry, self.spec.app_logs.services if self.spec.app_logs else ()
        first_db = self.spec.databases[0] if self.spec.databases else None
        return Endpoints(
            lb_url=f"http://127.0.0.1:{host_port(containers[entry.service], entry.service, f'{entry.port}/tcp')}",
            db_host_port=host_port(containers[first_db.service], first_db.service, f"{first_db.port}/tcp")
            if first_db else 0,
            app_urls={name: f"http://127.0.0.1:{host_port(containers[name], name, '8000/tcp')}"
                      for name in apps if name in containers and containers[name].ports.get("8000/tcp")})

    def compose_environment(self) -> dict[str, str]:
        """What the Compose files are interpolated with: for the built-in stack its images, knobs and password
        (passed in the environment, never printed); for a team's, the base image its builds may start from."""
        images = self.images or UNBUILT
        common = {"LAB_RUN_ID": self.run_id, "LAB_BASE_IMAGE": images.base}
        if not self.spec.builtin:
            return common
        return {**common, **images.compose_env(), **self.knobs.environment(), "LAB_DB_PASSWORD": self.db_password}

    def _launch_reaper(self) -> Reaper | None:
        if self.owner == DETACHED or self.images is None:
            return None
        return Reaper.launch(self.client, self.images.reaper, self.run_id, f"{self.project}-reaper")

    def _read_topology(self) -> None:
        if self.compose_topology is None:
            self.compose_topology = read_topology(Path(self.spec.compose_file), self.compose_environment(),
                                                  self._compose_argv(), observability_files(self.spec, self.observe))

    def _start(self, pick_lb: bool, pick_db: bool) -> None:
        if pick_lb:
            self.lb_port = free_port()
        if pick_db:
            self.db_port = free_port()
        build = ["--no-build"] if self.spec.builtin else ["--build"]  # a team's images build from its contexts
        try:
            self.compose("up", "--detach", *build, "--pull", "never", "--quiet-pull")
        except PortInUse:
            if pick_lb or pick_db:  # a picked port was taken between picking and binding: retry with new ones
                with contextlib.suppress(StackError):  # what is left is removed by label if the retries fail
                    self.compose("down", "--volumes", "--timeout", "1")
            raise

    def _compose_argv(self) -> list[str]:
        if self.compose_argv is None:
            self.compose_argv = compose_command()
        return self.compose_argv

    def compose(self, *args: str) -> None:
        """A Compose command on the run's project, with the lab's own files (the observability part's, the override)
        and each deployed release's override."""
        paths = [self.spec.compose_file, *observability_files(self.spec, self.observe)]
        if self.compose_topology is not None:
            ports = host_ports(self.spec, self.lb_port, self.db_port)
            paths.append(write_override(self.spec, self.compose_topology, self.run_id, self.owner, ports))
        files = [argument for path in (*paths, *self.release_files.values()) for argument in ("--file", str(path))]
        argv = [*self._compose_argv(), "--project-name", self.project,
                "--project-directory", str(Path(self.spec.compose_file).parent), *files, *args]
        run_compose(argv, self.compose_environment(), args[0], f"stack {self.run_id}")
