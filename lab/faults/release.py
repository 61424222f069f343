"""release: a bad release deployed to an app service, the change most outages begin with. At its apply the service
is rolled to the release (lab.stack.releases: its override written, its container recreated through Compose, as
a deploy tool does); it is in effect while the service's container runs that release, as its label says. So a
rollback is the responders' own: a `deploy` step of their runbook back to `current` (or a script of theirs
calling Compose) ends it, and the fault watch credits the step that did. The lab's revert, at the end of a run,
rolls back to the release the service ran before, unless someone already did.

A `deploy` step that rolls the fault's service onto the fault's release puts it in place too (a canary, a rollout
behind a health gate): the lab sees the change the same way, however it was made (deployed_faults).

No helper: the change is the stack's own definition, made from the lab's process. Its dead-man switch is the
stack's: a run's stack, the release with it, is removed when the lab is gone (its reaper)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Literal

from pydantic import Field, field_validator

from lab.document import AppService, ReleaseName
from lab.errors import FaultError
from lab.faults.base import FaultFamily, FaultHandle, FaultSpec, FaultState, FaultTarget
from lab.stack.deploy import DEPLOY_WAIT_S
from lab.stack.knobs import StackKnobs
from lab.stack.releases import CURRENT

ONSET_S = 3.0
"""From the apply until every request meets the release: the container replaced through Compose (1-2 s), then the
load balancer's checks seeing the new one (0.2 s apart once one fails, two to change its mind)."""


class ReleaseSpec(FaultSpec):
    """A bad release deployed to an app service; a rollback (a deploy back to current) ends it."""

    kind: Literal["release"]
    target: AppService = Field(description="The app service deployed to (one replica of the built-in stack's).")
    release: ReleaseName = Field(description="The release deployed (`lab releases` lists the stack's).")

    def onset_s(self, knobs: StackKnobs) -> float:
        return ONSET_S

    @field_validator("release")
    @classmethod
    def _not_current(cls, value: str) -> str:
        if value == CURRENT:
            raise ValueError(f"must be a release other than {CURRENT!r} (the stack's own: deploying it is a rollback)")
        return value


def deployed_faults(specs: Iterable[FaultSpec], service: str, release: str) -> list[str]:
    """The ids of the declared release faults a deploy of `release` to `service` puts in place."""
    return [spec.id for spec in specs
            if isinstance(spec, ReleaseSpec) and spec.target == service and spec.release == release]


class ReleaseFault:
    def __init__(self, spec: ReleaseSpec, target: FaultTarget) -> None:
        self.spec: ReleaseSpec = spec
        self.target = target
        self._before: str | None = None
        self._lock = threading.RLock()  # the fault watch verifies while the main thread reverts

    def places(self) -> frozenset[str]:
        return frozenset({self.spec.target})

    def prepare(self, arm_timeout_s: float) -> None:
        """Nothing to start ahead: the deploy itself is the apply."""

    def apply(self) -> str:
        with self._lock:
            service, release = self.spec.target, self.spec.release
            before = self.target.release_of(service)
            if self._before is None:
                self._before = before
            # Not waited for: the release is in effect once its container runs it, whether it ever serves or not;
            # the timeline goes on as the incident's did.
            self.target.deploy(service, release, wait_s=0)
            return f"{service} rolled from release {before} to {release}"

    def follow(self) -> str:
        """The release is the container's own: a restart keeps it, at whatever address."""
        return ""

    def verify(self) -> FaultState:
        with self._lock:
            running = self.target.release_of(self.spec.target)
        return FaultState(running == self.spec.release, f"{self.spec.target} runs release {running}")

    def revert(self) -> str:
        """Roll back to the release the service ran before, unless it no longer runs the fault's (a rollback
        already happened, or another deploy): idempotent, and never undoes the responders' own deploy."""
        with self._lock:
            service = self.spec.target
            running = self.target.release_of(service)
            if running != self.spec.release:
                return f"{service} already runs release {running}"
            back = self._before or CURRENT
            deployed = self.target.deploy(service, back, wait_s=DEPLOY_WAIT_S)
            said = f"{service} rolled back to release {back}"
            return said if deployed.serving else f"{said}, which does not serve: {deployed.detail}"

    def remove(self) -> tuple[str, FaultState | FaultError]:
        outcome = self.revert()
        try:
            return outcome, self.verify()
        except FaultError as exc:
            return outcome, exc


def build(spec: ReleaseSpec, target: FaultTarget) -> FaultHandle:
    return ReleaseFault(spec, target)


FAMILY = FaultFamily(
    spec=ReleaseSpec, build=build,
    mechanism="the service's release override written and its container recreated through Compose (`up --no-deps "
              "--force-recreate`), as a deploy tool does; no helper; revert rolls back unless a responder did",
    user_sees="what the release does: the built-in app's fail by their configuration (every order failing on a "
              "table never migrated, a crash loop, a pool of one under load, a database name that does not resolve)",
    example={"kind": "release", "target": "app-2", "release": "unmigrated-table"},
)
