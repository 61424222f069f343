"""The lab's Compose stack as a context manager: `up` waits for every service to be healthy, `down`
removes containers, networks and volumes, and both find things by the run's label only."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import docker
from docker.errors import APIError, NotFound
from tenacity import (
    Retrying,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_fixed,
)

from lab.document import Topology
from lab.errors import EngineLost, InvalidInput, NothingRunning, PortInUse, StackError
from lab.settings import Settings
from lab.stack import labels, readiness
from lab.stack.engine import ENGINE_ERRORS, compose_command
from lab.stack.health import HealthWait, NotReadyYet
from lab.stack.images import IMAGE_PREFIX, LabImages
from lab.stack.knobs import StackKnobs
from lab.stack.owners import DETACHED, OWNER_FILE
from lab.stack.reaper import Reaper
from lab.stack.spec import BUILTIN_STACK, DatabaseAccess, StackSpec, override, override_yaml
from lab.stack.topology import ComposeTopology, read_topology

SERVICES = ("db", "app-1", "app-2", "app-3", "lb")
APP_SERVICES = ("app-1", "app-2", "app-3")
BUILTIN_TOPOLOGY = Topology(services=SERVICES, databases=("db",), apps=APP_SERVICES)
DB_ADMIN, DB_NAME, DB_APP_ROLE = "lab", "orders", "orders_app"
DB_DATA = "/var/lib/postgresql/data"
COMPOSE_SERVICE = "com.docker.compose.service"
CONFLICT_RETRY_S = 15.0
RESTART_STOP_S = 5
"""A restarted service gets this long to stop before Docker kills it."""
RESTART_WAIT_S = 60.0
"""How long a restart waits for the service to serve again."""
BUILTIN_IMAGES = tuple(f"{IMAGE_PREFIX}{name}:" for name in ("db", "app", "lb"))
"""How a container of the built-in stack is known (a team's services the lab builds are outage-lab/own-...)."""


def new_run_id() -> str:
    """Sortable by time, unique enough for two runs started in the same second."""
    return datetime.now(UTC).strftime("%Y%m%dt%H%M%S") + "-" + secrets.token_hex(2)


def project_name(run_id: str) -> str:
    return f"outage-lab-{run_id}"


@dataclass(frozen=True)
class Endpoints:
    lb_url: str
    db_host_port: int
    app_urls: dict[str, str]


@dataclass
class Stack:
    """One lab stack. Use as a context manager: a failed `up` still runs `down`."""

    client: docker.DockerClient
    compose_argv: list[str] | None
    """None: found on first use (lab.stack.engine.compose_command)."""
    settings: Settings
    run_id: str = field(default_factory=new_run_id)
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
    spec: StackSpec = BUILTIN_STACK
    """Which stack: the built-in one, or a team's own Compose file (absolute path)."""
    compose_topology: ComposeTopology | None = field(default=None, repr=False)
    """The Compose file's topology, read when the stack first starts."""

    @property
    def entry_service(self) -> str:
        return self.spec.entry.service

    @property
    def database_services(self) -> tuple[str, ...]:
        return tuple(database.service for database in self.spec.databases)

    @property
    def project(self) -> str:
        return project_name(self.run_id)

    def __enter__(self) -> Stack:
        return self.start()

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

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.down()

    def up(self) -> None:
        """Start and wait for health. The entry and database host ports are picked free here (unless given)
        rather than left to Docker, whose ephemeral ports change when a container restarts: a scenario that
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
        # The services start together and turn healthy within a second or two.
        self.wait_healthy(self.spec.wait or None, poll_s=0.1)
        if self.spec.builtin:
            self._wait_in_rotation()

    def _launch_reaper(self) -> Reaper | None:
        if self.owner == DETACHED or self.images is None:
            return None
        return Reaper.launch(self.client, self.images.reaper, self.run_id, f"{self.project}-reaper")

    def _read_topology(self) -> None:
        if self.compose_topology is None:
            self.compose_topology = read_topology(Path(self.spec.compose_file), self.compose_environment(),
                                                  self._compose_argv())

    def _wait_in_rotation(self, timeout_s: float = 30.0) -> None:
        """Until the LB has every replica in rotation (they start with it): a new stack serves through all three."""
        lb = self.container("lb")
        port = host_port(lb, "lb", "80/tcp")
        retrying = Retrying(stop=stop_after_delay(timeout_s), wait=wait_fixed(0.1), reraise=True,
                            retry=retry_if_exception_type(NotReadyYet))

        def check() -> None:
            if not readiness.http_ok(port, "/lb-all-in-rotation"):
                raise NotReadyYet("lb", "without every replica in rotation", lb)

        try:
            retrying(check)
        except NotReadyYet as exc:
            raise StackError(f"stack {self.run_id}: {exc} after {timeout_s:.0f} s") from exc

    def _start(self, pick_lb: bool, pick_db: bool) -> None:
        if pick_lb:
            self.lb_port = free_port()
        if pick_db:
            self.db_port = free_port()
        build = ["--no-build"] if self.spec.builtin else ["--build"]  # a team's images build from its contexts
        try:
            self._compose("up", "--detach", *build, "--pull", "never", "--quiet-pull")
        except PortInUse:
            if pick_lb or pick_db:  # a picked port was taken between picking and binding: retry with new ones
                with contextlib.suppress(StackError):  # what is left is removed by label if the retries fail
                    self._compose("down", "--volumes", "--timeout", "1")
            raise

    def host_ports(self) -> dict[str, int]:
        """The 127.0.0.1 ports the lab picked: the entry's, and the databases' (the first one's is db_port)."""
        ports = {self.entry_service: self.lb_port or 0}
        for number, service in enumerate(self.database_services):
            ports[service] = (self.db_port or 0) if number == 0 else ports.get(service, 0)
        return ports

    def down(self) -> None:
        """Remove everything carrying the run's label (every container, network and volume Compose made has it,
        through the override); the reaper last, so that it still removes what is left should this process die
        meanwhile. Not `compose down`: it stops each service gracefully first, 1.5 s of a run's end spent waiting
        for containers whose recording is already closed."""
        try:
            remove_run_resources(self.client, self.run_id, spare_reaper=self.reaper is not None)
        except ENGINE_ERRORS as exc:
            raise EngineLost(f"cannot remove run {self.run_id}: the Docker engine is not answering; the first lab "
                             "command run once it is back removes it") from exc
        if self.reaper is not None:
            self.reaper.dismiss()
            self.reaper = None
        shutil.rmtree(override_directory(self.run_id), ignore_errors=True)

    def wait_healthy(self, services: tuple[str, ...] | None = None, timeout_s: float | None = None,
                     poll_s: float = 0.5) -> None:
        """Until every one of `services` (default: all of the stack's) is running, and healthy if it has a health
        check (lab.stack.health); StackError at once if one exited or vanished, with its last log lines."""
        if services is None:
            services = tuple(self.compose_topology.services) if self.compose_topology else SERVICES
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

    def restart(self, service: str) -> None:
        """Restart `service` (RESTART_STOP_S to stop before Docker kills it); StackError if the engine refuses."""
        try:
            self.container(service).restart(timeout=RESTART_STOP_S)
        except APIError as exc:
            raise StackError(f"restart of {service} failed: {exc.explanation or exc}") from exc

    def wait_serving(self, service: str, timeout_s: float = RESTART_WAIT_S) -> None:
        """Until a restarted `service` serves again (wait_healthy, the lab's probe asked every 0.1 s)."""
        self.wait_healthy((service,), timeout_s=timeout_s, poll_s=0.1)

    def ready(self, service: str, container: Any) -> bool:
        """The lab's own readiness probe (readiness): passes as soon as the service serves, where Docker's health
        check would only say so at its next interval. The built-in stack's services only (run from its images: a
        handle on a running stack is not told which stack it is): a team's own are healthy when Docker says so."""
        if not self.spec.builtin or not builtin_image(str(container.attrs["Config"]["Image"])):
            return False
        try:
            if service == "db":
                return readiness.postgres_accepting(self.db_conninfo(service, container))
            if service in APP_SERVICES:
                return readiness.http_ok(host_port(container, service, "8000/tcp"), "/healthz")
            if service == "lb":
                return readiness.http_ok(host_port(container, service, "80/tcp"), "/lb-healthz")
        except StackError:  # no port published (yet): Docker's health check decides
            return False
        return False

    def start_stopped(self, services: tuple[str, ...], timeout_s: float = 60) -> list[str]:
        """Start those of `services` that are not running (an engine restart stops them all) and wait until they
        are healthy. Returns the ones started."""
        started = []
        for name in services:
            container = self.container(name)
            if container.status != "running":
                container.start()
                started.append(name)
        if started:
            self.wait_healthy(tuple(started), timeout_s=timeout_s, poll_s=0.2)
        return started

    def containers(self) -> dict[str, Any]:
        """Service name → container, for this run's containers only."""
        found = labels.find_containers(self.client, labels.run_filter(self.run_id, labels.ROLE_STACK))
        return {c.labels[COMPOSE_SERVICE]: c for c in found if COMPOSE_SERVICE in c.labels}

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
        entry = self.spec.entry
        apps = self.spec.app_logs.services if self.spec.app_logs else ()
        first_db = self.spec.databases[0] if self.spec.databases else None
        return Endpoints(
            lb_url=f"http://127.0.0.1:{host_port(containers[entry.service], entry.service, f'{entry.port}/tcp')}",
            db_host_port=host_port(containers[first_db.service], first_db.service, f"{first_db.port}/tcp")
            if first_db else 0,
            app_urls={name: f"http://127.0.0.1:{host_port(containers[name], name, '8000/tcp')}"
                      for name in apps if name in containers and containers[name].ports.get("8000/tcp")},
        )

    def database(self, service: str | None = None) -> DatabaseAccess:
        """The PostgreSQL service named (default: the first) and how an administrator logs in to it."""
        for database in self.spec.databases:
            if service in (None, database.service):
                return database
        raise StackError(f"{service or 'this stack'} is not a PostgreSQL service of the stack (stack.databases)")

    def db_conninfo(self, service: str | None = None, container: Any = None) -> str:
        """How to reach a database from this host; needs only its container to be running (`container`: as the engine
        has just described it, else asked now)."""
        database = self.database(service)
        container = container if container is not None else self.container(database.service)
        port = host_port(container, database.service, f"{database.port}/tcp")
        user = self.database_credentials(database)[0]
        return f"host=127.0.0.1 port={port} dbname={database.dbname} user={user} connect_timeout=5"

    def database_credentials(self, database: DatabaseAccess) -> tuple[str, str]:
        """(user, password) of an administrator: the built-in stack's own, or read from the environment variables
        the scenario names (never printed)."""
        if self.spec.builtin:
            return DB_ADMIN, self.db_password
        if not database.user_env or not database.password_env:
            raise InvalidInput(f"stack.databases: {database.service}: name the environment variables of an "
                               "administrator's credentials (user_env, password_env)")
        missing = [name for name in (database.user_env, database.password_env) if name not in os.environ]
        if missing:
            raise InvalidInput(f"stack.databases: {database.service}: set {' and '.join(missing)} in the environment "
                               "(an administrator's credentials; never printed)")
        return os.environ[str(database.user_env)], os.environ[str(database.password_env)]

    def database_env(self, service: str) -> dict[str, str]:
        """libpq's environment for an administrator of database `service`, seen from the stack's network (the
        password is passed in the environment, never printed)."""
        database = self.database(service)
        user, password = self.database_credentials(database)
        return {"PGHOST": service, "PGPORT": str(database.port), "PGUSER": user, "PGPASSWORD": password,
                "PGDATABASE": database.dbname, "PGDATA": database.data_dir, "PGCONNECT_TIMEOUT": "3"}

    def compose_environment(self) -> dict[str, str]:
        """What the Compose files are interpolated with: for the built-in stack its images, knobs and password
        (passed in the environment, never printed); for a team's, the base image its builds may start from."""
        images = self.images or LabImages(base="unused", db="unused", app="unused", lb="unused", tools="unused",
                                          reaper="unused")
        common = {"LAB_RUN_ID": self.run_id, "LAB_BASE_IMAGE": images.base}
        if not self.spec.builtin:
            return common
        return {**common, **images.compose_env(), **self.knobs.environment(), "LAB_DB_PASSWORD": self.db_password}

    def _compose_argv(self) -> list[str]:
        if self.compose_argv is None:
            self.compose_argv = compose_command()
        return self.compose_argv

    def _override_file(self) -> Path:
        """The lab's override of the stack's Compose file (labels, ownership, host ports), next to nothing of the
        team's: in a directory of the lab's own."""
        directory = override_directory(self.run_id)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / OWNER_FILE).write_text(self.owner)  # a later lab command removes it if this process dies
        path = directory / "override.yaml"
        if self.compose_topology is not None:
            document = override(self.spec, self.compose_topology, self.run_id, self.owner, self.host_ports())
            path.write_text(override_yaml(document))
        return path

    def _compose(self, *args: str) -> None:
        env = {**os.environ, **self.compose_environment()}
        files = ["--file", self.spec.compose_file]
        if self.compose_topology is not None:
            files += ["--file", str(self._override_file())]
        argv = [*self._compose_argv(), "--project-name", self.project,
                "--project-directory", str(Path(self.spec.compose_file).parent), *files, *args]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)
        except subprocess.TimeoutExpired as exc:
            raise StackError(f"`compose {args[0]}` did not finish in 600 s") from exc
        if done.returncode != 0:
            message = compose_error_line(done.stderr)
            if "address already in use" in message or "port is already allocated" in message:
                raise PortInUse(f"a host port of stack {self.run_id} is taken: {message}")
            raise StackError(f"`compose {args[0]}` failed: {message}")


def builtin_image(image: str) -> bool:
    """Whether a container runs one of the built-in stack's images (its tag, as the container was created with)."""
    return image.startswith(BUILTIN_IMAGES)


def host_port(container: Any, service: str, container_port: str) -> int:
    """The host port a running container publishes `container_port` on (a stopped one publishes none)."""
    bindings = container.ports.get(container_port) or []
    if not bindings:
        raise StackError(f"{service} publishes no port for {container_port}")
    return int(bindings[0]["HostPort"])


def compose_error_line(stderr: str) -> str:
    """The line of Compose's output that says what went wrong (it ends with it)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower() or "failed" in line.lower()]
    return (errors or lines or ["no output"])[-1]


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ensure_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                message = f"port {port} on 127.0.0.1 is in use: pick another, or leave it out for a free one"
                raise PortInUse(message) from exc
            raise


def override_directory(run_id: str) -> Path:
    """The run's own directory on this host: its Compose override, its owner file and a drill's control socket.
    Removed with the stack, or by the next lab command if the run's process died (`remove_dead_runs_directories`)."""
    return override_root() / run_id


def override_root() -> Path:
    return Path(tempfile.gettempdir()) / "outage-lab"


def remove_run_resources(client: docker.DockerClient, run_id: str, spare_reaper: bool = False) -> int:
    """Remove every container, network and volume labelled with this run (its live reaper too, unless spared).
    Returns how many went."""
    removed = 0
    selector = labels.run_filter(run_id)
    containers = [c for c in labels.summaries(client, selector)
                  if not (spare_reaper and (c.get("Labels") or {}).get(labels.ROLE) == labels.ROLE_REAPER)]
    for helper in (c for c in containers if (c.get("Labels") or {}).get(labels.ROLE) == labels.ROLE_FAULT
                   and c["State"] == "running"):
        # SIGTERM first: a fault helper reverts its fault on SIGTERM, a forced removal would kill it mid-fault.
        _ignore_gone(lambda h=helper: client.api.stop(h["Id"], timeout=5))
    if containers:  # together: each forced removal is a kill and a wait for the engine (0.2-0.3 s)
        with ThreadPoolExecutor(max_workers=min(8, len(containers)), thread_name_prefix="remove") as pool:
            removed += sum(pool.map(lambda c: _ignore_gone(
                lambda: client.api.remove_container(c["Id"], force=True, v=True)), containers))
    for network in client.networks.list(filters=selector):
        removed += _ignore_gone(network.remove)
    for volume in client.volumes.list(filters=selector):
        removed += _ignore_gone(lambda v=volume: v.remove(force=True))
    return removed


def _ignore_gone(action: Any) -> int:
    """1 once `action` (a removal) has happened, 0 if the thing was already gone. A conflict ("removal already in
    progress", "network has active endpoints" while a container is still going) passes: it is retried for a while."""
    retrying = Retrying(stop=stop_after_delay(CONFLICT_RETRY_S), wait=wait_fixed(0.25), reraise=True,
                        retry=retry_if_exception(lambda exc: isinstance(exc, APIError) and exc.status_code == 409))
    try:
        retrying(action)
    except NotFound:
        return 0
    return 1


def running_run_ids(client: docker.DockerClient) -> list[str]:
    """Run ids of every lab stack with resources on this engine, oldest first."""
    found: set[str] = set()
    for container in labels.summaries(client, labels.managed_filter()):
        found.add((container.get("Labels") or {}).get(labels.RUN, ""))
    for network in client.networks.list(filters=labels.managed_filter()):
        found.add((network.attrs.get("Labels") or {}).get(labels.RUN, ""))
    for volume in client.volumes.list(filters=labels.managed_filter()):
        found.add((volume.attrs.get("Labels") or {}).get(labels.RUN, ""))
    found.discard("")
    return sorted(found)


def pick_run(client: docker.DockerClient, run_id: str | None) -> str:
    runs = running_run_ids(client)
    if run_id is not None:
        if run_id not in runs:
            raise NothingRunning(f"no lab stack with run id {run_id} (running: {', '.join(runs) or 'none'})")
        return run_id
    if not runs:
        raise NothingRunning("no lab stack is running: start one with `lab up`")
    if len(runs) > 1:
        raise InvalidInput(f"{len(runs)} lab stacks are running ({', '.join(runs)}): name one with --run")
    return runs[0]
