"""The built-in stack's optional observability part (lab/compose/observe.yaml, the image lab/dockerfiles/observe):
Prometheus scraping the apps' /metrics, HAProxy's exporter and the database's, and Alertmanager. Its names, its
Compose file, how the lab knows each of its services serves, and where Prometheus answers: written here only.

Why a Compose file of its own, added to the project only when a stack asks for it, rather than a profile in
stack.yaml: the part joins a project as a whole by naming its file, as it can join a team's Compose file one day
(whose profiles are the team's own), and a stack without it reads, starts and costs exactly what it did.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import InvalidInput
from lab.settings import PACKAGE_DIR
from lab.stack import readiness
from lab.stack.images import IMAGE_PREFIX
from lab.stack.ports import host_port
from lab.stack.spec import StackSpec

COMPOSE_FILE = PACKAGE_DIR / "compose" / "observe.yaml"
PROMETHEUS, ALERTMANAGER, DB_EXPORTER = "prometheus", "alertmanager", "db-exporter"
SERVICES = (PROMETHEUS, ALERTMANAGER, DB_EXPORTER)
PROMETHEUS_PORT, ALERTMANAGER_PORT = 9090, 9093
PUBLISHED = {PROMETHEUS: PROMETHEUS_PORT, ALERTMANAGER: ALERTMANAGER_PORT}
"""The services the part publishes on 127.0.0.1 (their UIs and HTTP APIs, /-/ready included), by their port."""
SCRAPE_INTERVAL_S = 1.0
"""Prometheus's scrape and rule evaluation interval (lab/dockerfiles/observe/prometheus.yml): what a metric's
movement, and an alert, may lag behind what users saw, besides the rule's own window and `for`."""
IMAGE = f"{IMAGE_PREFIX}observe:"


@dataclass(frozen=True)
class Urls:
    """Where this host reaches the stack's Prometheus and Alertmanager (their UIs and HTTP APIs)."""

    prometheus: str
    alertmanager: str


def compose_files(spec: StackSpec, observe: bool) -> tuple[Path, ...]:
    """The Compose files the part adds to the stack's own: its file, when the stack asks for it. Its scrape targets
    are the built-in stack's names: a team's stack asking for it is refused before Compose reads anything."""
    if observe and not spec.builtin:
        raise InvalidInput("the observability part (Prometheus, Alertmanager) comes with the built-in stack only")
    return (COMPOSE_FILE,) if observe else ()


def urls(containers: dict[str, Any]) -> Urls | None:
    """The part's URLs, given the stack's containers by service (None: the stack has no observability part)."""
    if any(service not in containers for service in PUBLISHED):
        return None
    return Urls(prometheus=_url(containers[PROMETHEUS], PROMETHEUS),
                alertmanager=_url(containers[ALERTMANAGER], ALERTMANAGER))


def _url(container: Any, service: str) -> str:
    return f"http://127.0.0.1:{_host_port(container, service)}"


def _host_port(container: Any, service: str) -> int:
    return host_port(container, service, f"{PUBLISHED[service]}/tcp")


def observe_image(image: str) -> bool:
    """Whether a container runs the observability image (its tag, as the container was created with)."""
    return image.startswith(IMAGE)


def ready(service: str, container: Any) -> bool:
    """The lab's own probe of an observability service: Prometheus and Alertmanager once their /-/ready says so
    (Prometheus: its storage open, scraping), the exporter once it runs (it publishes no port: only Prometheus, on
    the stack's network, reads it, and says whether it answers as `up`)."""
    if service in PUBLISHED:
        return readiness.http_ok(_host_port(container, service), "/-/ready")
    return service == DB_EXPORTER and bool(container.status == "running")

