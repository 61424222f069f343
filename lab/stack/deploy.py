"""A deploy of a release to a service of a run's stack, as a deploy tool does it with Compose: the release's
override written (lab.stack.override), the service's container recreated from it (`up --no-deps
--force-recreate`), then waited for until it serves. The release a container runs is its label."""

from __future__ import annotations

from dataclasses import dataclass

from lab.errors import StackError
from lab.stack import labels
from lab.stack.override import write_release_override
from lab.stack.project import Stack
from lab.stack.releases import CURRENT

DEPLOY_WAIT_S = 30.0
"""How long a deploy waits for the new release to serve before it says it does not."""


@dataclass(frozen=True)
class Deployed:
    service: str
    release: str
    container_id: str
    serving: bool | None
    """Whether it served within the deploy's wait; None: not waited for."""
    detail: str
    """Why it does not serve (its state, its last log line); empty when it does."""


def deploy(stack: Stack, service: str, release: str, wait_s: float = DEPLOY_WAIT_S) -> Deployed:
    """Roll `service` to `release`, then wait up to `wait_s` until it serves (0: not at all). A release that never
    serves (a crash loop, a wait for a database it cannot reach) is not an error: the deploy is done, and Deployed
    says why it is not serving. StackError if Compose refuses."""
    stack.container(service)  # the run's own (label-checked) before anything changes
    definition = None if release == CURRENT else stack.spec.releases[release]
    stack.release_files[service] = write_release_override(stack.run_id, service, release, definition)
    stack.compose("up", "--detach", "--no-deps", "--force-recreate", "--no-build", "--pull", "never", service)
    if wait_s <= 0:
        return Deployed(service, release, container_id=stack.container(service).id, serving=None, detail="")
    try:
        stack.wait_healthy((service,), timeout_s=wait_s, poll_s=0.2)
    except StackError as exc:
        return Deployed(service, release, container_id=stack.container(service).id, serving=False, detail=str(exc))
    return Deployed(service, release, container_id=stack.container(service).id, serving=True, detail="")


def release_of(stack: Stack, service: str) -> str:
    """The release `service`'s container runs now, as its label says (`current`: never deployed)."""
    return str(stack.container(service).labels.get(labels.RELEASE, CURRENT))
