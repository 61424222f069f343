"""Labels on everything the lab creates, and the checks that keep it away from everything else.

Python's standard library only: the run's reaper container carries this module (copied into its image when it is
built, lab.stack.images), so that it finds a run's resources by the same names as the lab."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from lab.errors import SafetyError

MANAGED = "outage-lab.managed"
RUN = "outage-lab.run"
ROLE = "outage-lab.role"
OWNER = "outage-lab.owner"
"""host:pid:start-ticks of the lab process that owns a run (lab.stack.owners); "detached" for `lab up`."""
EXPIRES = "outage-lab.expires"
"""UTC epoch seconds after which a fault helper reverts by itself."""
PROBE = "outage-lab.probe"
"""Short-lived containers the lab uses to look, kept off the recording."""
FAULT = "outage-lab.fault"
"""The id of the fault a helper holds."""
RELEASE = "outage-lab.release"
"""The release a deploy put on a service's container (lab.stack.releases); none: the Compose file's own."""
COMPOSE_SERVICE = "com.docker.compose.service"
"""Compose's own label: the service a container belongs to."""

ROLE_STACK = "stack"
ROLE_FAULT = "fault"
ROLE_REAPER = "reaper"


def new_run_id() -> str:
    """Sortable by time, and unique among the runs started in one second (a game day starts one per trainee): 32
    random bits, so that two of 50 ids made in one second are the same once in 3 million times (16 bits: once in
    50, as a unit test found)."""
    return datetime.now(UTC).strftime("%Y%m%dt%H%M%S") + "-" + secrets.token_hex(4)


def project_name(run_id: str) -> str:
    """The run's Compose project: its containers are named after it."""
    return f"outage-lab-{run_id}"


def run_labels(run_id: str, role: str) -> dict[str, str]:
    return {MANAGED: "true", RUN: run_id, ROLE: role}


def run_filter(run_id: str, role: str | None = None) -> dict[str, Any]:
    """The engine's filter for the resources of one run (of one role of it, if given)."""
    selector = [f"{MANAGED}=true", f"{RUN}={run_id}"]
    return {"label": [*selector, f"{ROLE}={role}"] if role else selector}


def managed_filter() -> dict[str, Any]:
    return {"label": [f"{MANAGED}=true"]}


def owned(labels: dict[str, str] | None, run_id: str) -> bool:
    """The resource carries both of the run's labels."""
    labels = labels or {}
    return labels.get(MANAGED) == "true" and labels.get(RUN) == run_id


def ensure_owned(labels: dict[str, str] | None, run_id: str, what: str) -> None:
    """Refuse to act on a resource that this run did not create."""
    if not owned(labels, run_id):
        raise SafetyError(f"refusing to touch {what}: it does not carry the label {RUN}={run_id}")
