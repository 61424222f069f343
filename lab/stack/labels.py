"""Labels on everything the lab creates, and the checks that keep it away from everything else."""

from __future__ import annotations

from typing import Any

import docker
from docker.errors import NotFound

from lab.errors import SafetyError

MANAGED = "outage-lab.managed"
RUN = "outage-lab.run"
ROLE = "outage-lab.role"
OWNER = "outage-lab.owner"  # host:pid:start-ticks of the `lab run` that owns a run; "detached" for `lab up`
EXPIRES = "outage-lab.expires"  # UTC epoch seconds after which a fault helper reverts by itself
PROBE = "outage-lab.probe"  # short-lived containers the lab uses to look, kept off the recording

ROLE_STACK = "stack"
ROLE_FAULT = "fault"
ROLE_REAPER = "reaper"


def run_labels(run_id: str, role: str) -> dict[str, str]:
    return {MANAGED: "true", RUN: run_id, ROLE: role}


def run_filter(run_id: str, role: str | None = None) -> dict[str, Any]:
    """Docker SDK filter for the resources of one run (of one role of it, if given)."""
    selector = [f"{MANAGED}=true", f"{RUN}={run_id}"]
    return {"label": [*selector, f"{ROLE}={role}"] if role else selector}


def managed_filter() -> dict[str, Any]:
    return {"label": [f"{MANAGED}=true"]}


def find_containers(client: docker.DockerClient, filters: dict[str, Any]) -> list[Any]:
    """Containers matching `filters`, each inspected, skipping any that goes away meanwhile. docker-py's
    containers.list() inspects what it listed one by one and raises NotFound when a short-lived container (a fault
    helper, a probe, a trainee's `docker run --rm`) vanished in between: a vanished container is not an error."""
    found = []
    for summary in client.api.containers(all=True, filters=filters):
        try:
            found.append(client.containers.get(summary["Id"]))
        except NotFound:
            continue
    return found


def summaries(client: docker.DockerClient, filters: dict[str, Any]) -> list[dict[str, Any]]:
    """The engine's one-call listing (id, names, labels, state), with no per-container inspection to race."""
    listed: list[dict[str, Any]] = client.api.containers(all=True, filters=filters)
    return listed


def ensure_owned(labels: dict[str, str] | None, run_id: str, what: str) -> None:
    """Refuse to act on a resource that this run did not create."""
    labels = labels or {}
    if labels.get(MANAGED) != "true" or labels.get(RUN) != run_id:
        raise SafetyError(f"refusing to touch {what}: it does not carry the label {RUN}={run_id}")
