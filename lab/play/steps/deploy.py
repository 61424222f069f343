"""deploy: services rolled to a release one at a time, as a rolling deploy does: on the timeline (a change the
incident made) or in a runbook (the responders' rollback, to `current`). Each service is recreated on its release
through Compose (lab.stack.deploy) and waited for until it serves; one that never does (a crash
loop) is recorded as such and the rollout goes on, as a deploy tool without a health gate would. A rollout that
pauses between batches is one deploy step per batch, at their offsets. Every fault in effect follows a recreated
service to its new address, as after a restart."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from lab.document import AppService, ReleaseName
from lab.errors import StackError
from lab.play.steps.base import StepBase, StepFailed
from lab.record.schema import DeployDone, DeployReplaced, DeployStarted
from lab.stack.deploy import DEPLOY_WAIT_S, deploy, release_of
from lab.stack.project import RESTART_STOP_S

if TYPE_CHECKING:
    from lab.play.stage import Stage


class DeployStep(StepBase):
    """Services rolled to a release, one at a time (a deploy, or a rollback to current)."""

    action: Literal["deploy"]
    order: ClassVar[int] = 45
    in_runbook: ClassVar[bool] = True
    services: tuple[AppService, ...] = Field(min_length=1, description="The services rolled, in this order.")
    release: ReleaseName = Field(description="The release they get (`current`: the stack's own, a rollback).")

    @property
    def service(self) -> str | None:
        return self.services[0]

    def overrun_s(self) -> float:
        """Each service's replacement and its wait for it to serve."""
        return len(self.services) * (RESTART_STOP_S + DEPLOY_WAIT_S)

    def perform(self, stage: Stage) -> str:
        return stage.as_responder(f"deploy step {self.index}", frozenset(self.services),
                                  lambda: roll_out(stage, self.services, self.release))


def roll_out(stage: Stage, services: tuple[str, ...], release: str, wait_s: float = DEPLOY_WAIT_S) -> str:
    """`services` rolled to `release` one at a time, each waited for up to `wait_s`, recorded as deploy.started,
    one deploy.replaced each and deploy.done; returns what happened. StepFailed if Compose refuses one."""
    stage.log.emit(DeployStarted(release=release, services=list(services)))
    serving: list[str] = []
    said: list[str] = []
    for service in services:
        previous = release_of(stage.stack, service)
        try:
            deployed = deploy(stage.stack, service, release, wait_s)
        except StackError as exc:
            stage.log.emit(DeployDone(release=release, serving=serving,
                                      not_serving=[s for s in services if s not in serving]))
            raise StepFailed(f"deploy of {release} to {service} failed: {exc}") from exc
        stage.log.emit(DeployReplaced(service=service, release=release, previous=previous,
                                      container=deployed.container_id[:12], serving=bool(deployed.serving),
                                      detail=deployed.detail))
        said += stage.faults.follow(service)
        if deployed.serving:
            serving.append(service)
    not_serving = [service for service in services if service not in serving]
    stage.log.emit(DeployDone(release=release, serving=serving, not_serving=not_serving))
    outcome = f"{', '.join(services)} on release {release}"
    if not_serving:
        outcome += f"; not serving: {', '.join(not_serving)}"
    return outcome + "".join(f"; {line}" for line in said)
