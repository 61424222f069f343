"""The built-in stack: PostgreSQL, three replicas of the orders app on psycopg 3, HAProxy in front
(lab/compose/stack.yaml, the images under lab/dockerfiles). Its names, written here only, and how the lab knows one
of its services serves: its own probe, asked as often as it likes, rather than Docker's health check every 5 s."""

from __future__ import annotations

from typing import Any, Protocol

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from lab.document import Topology
from lab.errors import StackError
from lab.settings import BUILTIN_COMPOSE_FILE
from lab.stack import observability, readiness
from lab.stack.databases import Databases
from lab.stack.health import NotReadyYet
from lab.stack.images import IMAGE_PREFIX
from lab.stack.ports import host_port
from lab.stack.releases import BUILTIN_RELEASES, CURRENT
from lab.stack.spec import AppLogs, DatabaseAccess, Entry, StackSpec

DB, LB = "db", "lb"
APPS = ("app-1", "app-2", "app-3")
SERVICES = (DB, *APPS, LB)
DISK = "db-disk"
"""The container that keeps the database's disk (a tmpfs volume) mounted while the database restarts: part of the
stack, never a scenario's target (compose/stack.yaml)."""
DB_ADMIN, DB_NAME, DB_APP_ROLE = "lab", "orders", "orders_app"
"""The database's administrator (its password is random per run), the apps' database, and the apps' own role."""
ORDERS_TABLE = "orders"
"""The apps' one table (created by each app at its start, lab/dockerfiles/app/orders_app.py)."""
SERVED_BY = "X-Served-By"
"""The header with which HAProxy names the replica that answered."""
BUILTIN_TOPOLOGY = Topology(services=SERVICES, databases=(DB,), apps=APPS, tables=(f"public.{ORDERS_TABLE}",),
                            balancers=(LB,), releases=(CURRENT, *BUILTIN_RELEASES))
BUILTIN_STACK = StackSpec(
    compose_file=str(BUILTIN_COMPOSE_FILE), entry=Entry(service=LB, port=80), served_by_header=SERVED_BY,
    databases=(DatabaseAccess(service=DB, dbname=DB_NAME),), app_logs=AppLogs(services=APPS, format="lab-json"),
    releases=BUILTIN_RELEASES)
BUILTIN_IMAGES = tuple(f"{IMAGE_PREFIX}{name}:" for name in ("db", "app", "lb"))
"""How a container of the built-in stack is known (a team's services the lab builds are outage-lab/own-...)."""
ROTATION_WAIT_S = 30.0


class Running(Protocol):
    """What the probes ask of a running stack."""

    run_id: str
    databases: Databases

    def container(self, service: str) -> Any: ...


def builtin_image(image: str) -> bool:
    """Whether a container runs one of the built-in stack's images (its tag, as the container was created with)."""
    return image.startswith(BUILTIN_IMAGES)


def ready(stack: Running, service: str, container: Any) -> bool:
    """The lab's own probe of a built-in service (its observability part's included): it passes as soon as the
    service serves. Only a container of the built-in images is probed (a handle on a running stack is not told which
    stack it is)."""
    image = str(container.attrs["Config"]["Image"])
    if not builtin_image(image) and not observability.observe_image(image):
        return False
    try:
        if service in observability.SERVICES:
            return observability.ready(service, container)
        if service == DB:
            return readiness.postgres_accepting(stack.databases.conninfo(service, container))
        if service in APPS:
            return readiness.http_ok(host_port(container, service, "8000/tcp"), "/healthz")
        if service == LB:
            return readiness.http_ok(host_port(container, service, "80/tcp"), "/lb-healthz")
        if service == DISK:  # serves nothing: it holds a volume while it runs
            return bool(container.status == "running")
    except StackError:  # no port published (yet): Docker's health check decides
        return False
    return False


def wait_in_rotation(stack: Running, timeout_s: float = ROTATION_WAIT_S) -> None:
    """Until the LB has every replica in rotation (they start with it): a new stack serves through all three."""
    lb = stack.container(LB)
    port = host_port(lb, LB, "80/tcp")
    retrying = Retrying(stop=stop_after_delay(timeout_s), wait=wait_fixed(0.1), reraise=True,
                        retry=retry_if_exception_type(NotReadyYet))

    def check() -> None:
        if not readiness.http_ok(port, "/lb-all-in-rotation"):
            raise NotReadyYet(LB, "without every replica in rotation", lb)

    try:
        retrying(check)
    except NotReadyYet as exc:
        raise StackError(f"stack {stack.run_id}: {exc} after {timeout_s:.0f} s") from exc
