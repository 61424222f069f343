"""The lab's runs on an engine, found by label: which exist, who owns each, which are dead, and which one a command
means when none is named."""

from __future__ import annotations

import docker

from lab.errors import InvalidInput, NothingRunning
from lab.stack import labels
from lab.stack.docker_api import summaries
from lab.stack.owners import DETACHED, owner_alive, owner_pid


def running_run_ids(client: docker.DockerClient) -> list[str]:
    """Run ids of every lab stack with resources on this engine, oldest first."""
    found = {run_labels.get(labels.RUN, "") for run_labels in _resource_labels(client)}
    found.discard("")
    return sorted(found)


def owners_by_run(client: docker.DockerClient) -> dict[str, str]:
    owners: dict[str, str] = {}
    for resource_labels in _resource_labels(client):
        run_id = resource_labels.get(labels.RUN)
        owner = resource_labels.get(labels.OWNER)
        if run_id and owner and owner != DETACHED:
            owners.setdefault(run_id, owner)
    return owners


def dead_runs(client: docker.DockerClient) -> list[str]:
    return sorted(run_id for run_id, owner in owners_by_run(client).items() if not owner_alive(owner))


def pick_run(client: docker.DockerClient, run_id: str | None) -> str:
    """The run named, else the only one; one line saying why when there is none, or several."""
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


def _resource_labels(client: docker.DockerClient) -> list[dict[str, str]]:
    """The labels of every container, network and volume the lab made on this engine."""
    selector = labels.managed_filter()
    found = [(c.get("Labels") or {}) for c in summaries(client, selector)]
    found += [(n.attrs.get("Labels") or {}) for n in client.networks.list(filters=selector)]
    found += [(v.attrs.get("Labels") or {}) for v in client.volumes.list(filters=selector)]
    return found
