"""Labels on everything the lab creates, and the checks that keep it away from everything else."""

from __future__ import annotations

from typing import Any

from lab.errors import SafetyError

MANAGED = "outage-lab.managed"
RUN = "outage-lab.run"
ROLE = "outage-lab.role"
OWNER = "outage-lab.owner"  # host:pid:start-ticks of the `lab run` that owns a run; "detached" for `lab up`
EXPIRES = "outage-lab.expires"  # UTC epoch seconds after which a fault helper reverts by itself
PROBE = "outage-lab.probe"  # short-lived containers the lab uses to look, kept off the recording

ROLE_STACK = "stack"
ROLE_FAULT = "fault"


def run_labels(run_id: str, role: str) -> dict[str, str]:
    return {MANAGED: "true", RUN: run_id, ROLE: role}


def run_filter(run_id: str) -> dict[str, Any]:
    """Docker SDK filter for the resources of one run."""
    return {"label": [f"{MANAGED}=true", f"{RUN}={run_id}"]}


def managed_filter() -> dict[str, Any]:
    return {"label": [f"{MANAGED}=true"]}


def ensure_owned(labels: dict[str, str] | None, run_id: str, what: str) -> None:
    """Refuse to act on a resource that this run did not create."""
    labels = labels or {}
    if labels.get(MANAGED) != "true" or labels.get(RUN) != run_id:
        raise SafetyError(f"refusing to touch {what}: it does not carry the label {RUN}={run_id}")
