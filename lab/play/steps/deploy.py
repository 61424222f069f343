"""deploy: services rolled to a release one at a time, as a rolling deploy does: on the timeline (a change the
incident made) or in a runbook (the responders' rollback, to `current`). Each service is recreated on its release
through Compose (lab.stack.deploy) and waited for until it serves. A rollout that pauses between batches is one
deploy step per batch, at their offsets. Every fault in effect follows a recreated service to its new address, as
after a restart.

Without a health gate, a service that never serves (a crash loop) is recorded as such and the rollout goes on, as a
deploy tool without one would. With one (`health_gate`), the rollout halts at the first service that does not serve
within the gate's wait: the services after it keep the release they run (`deploy.halted` names them). A halt alone
leaves the failed service on the new release, as Kubernetes does when a Deployment passes its progress deadline (it
marks the rollout failed and waits for a human's `kubectl rollout undo`); `roll_back` also puts the failed service
back on the release it ran before, as Argo Rollouts and Spinnaker do when they abort a canary. Halting is the
default because it is what every gate does, while the automatic rollback is a measure of its own: the halted
replica is what the responders then find, unless the scenario says its tooling rolls back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from lab.document import AppService, DocumentModel, PositiveSeconds, ReleaseName
from lab.errors import StackError
from lab.play.steps.base import StepBase, StepFailed
from lab.record.schema import DeployDone, DeployHalted, DeployReplaced, DeployStarted
from lab.stack.deploy import DEPLOY_WAIT_S, deploy, release_of
from lab.stack.project import RESTART_STOP_S

if TYPE_CHECKING:
    from lab.play.stage import Stage

MAX_GATE_S = 600.0
"""The longest a health gate may wait for a service: Kubernetes' default progress deadline. The timeline waits with
it, for every service of the rollout."""


class HealthGate(DocumentModel):
    """A rollout halts at the first service that does not serve within `within_s` of its replacement."""

    within_s: PositiveSeconds = Field(DEPLOY_WAIT_S, le=MAX_GATE_S, description=(
        "How long each replaced service has to serve (lab seconds: --speed does not shorten it) before the rollout "
        "halts."))
    roll_back: bool = Field(False, strict=True, description=(
        "Also put the service that failed the gate back on the release it ran before (as Argo Rollouts and "
        "Spinnaker abort a canary); without it, it stays on the new release, as a Kubernetes Deployment past its "
        "progress deadline does."))


class DeployStep(StepBase):
    """Services rolled to a release, one at a time (a deploy, or a rollback to current)."""

    action: Literal["deploy"]
    order: ClassVar[int] = 45
    in_runbook: ClassVar[bool] = True
    services: tuple[AppService, ...] = Field(min_length=1, description="The services rolled, in this order.")
    release: ReleaseName = Field(description="The release they get (`current`: the stack's own, a rollback).")
    health_gate: HealthGate | None = Field(None, description=(
        "Halt the rollout at the first service that does not serve within the gate's wait (a crash loop): the "
        "services after it keep their release, recorded as deploy.halted. Without it every service is rolled, "
        "whatever the ones before did, as a deploy tool without a health gate would."))

    @property
    def service(self) -> str | None:
        return self.services[0]

    @property
    def rolls_back(self) -> bool:
        """Its health gate puts a service that fails it back on the release it ran before."""
        return self.health_gate is not None and self.health_gate.roll_back

    def overrun_s(self) -> float:
        """Each service's replacement and its wait for it to serve, and a gate's rollback."""
        wait_s = self.health_gate.within_s if self.health_gate else DEPLOY_WAIT_S
        rollback_s = RESTART_STOP_S + DEPLOY_WAIT_S if self.health_gate and self.health_gate.roll_back else 0.0
        return len(self.services) * (RESTART_STOP_S + wait_s) + rollback_s

    def perform(self, stage: Stage) -> str:
        what = f"deploy step {self.index}"
        return stage.as_responder(what, frozenset(self.services),
                                  lambda: roll_out(stage, self.services, self.release, gate=self.health_gate, by=what))


@dataclass
class _Outcome:
    """Where each service of a rollout ended: one list each, every service in exactly one (DeployDone)."""

    serving: list[str] = field(default_factory=list)
    not_serving: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)
    not_deployed: list[str] = field(default_factory=list)
    said: list[str] = field(default_factory=list)

    def done(self, release: str) -> DeployDone:
        return DeployDone(release=release, serving=self.serving, not_serving=self.not_serving,
                          rolled_back=self.rolled_back, not_deployed=self.not_deployed)


def roll_out(stage: Stage, services: tuple[str, ...], release: str, wait_s: float = DEPLOY_WAIT_S,
             gate: HealthGate | None = None, by: str = "deploy") -> str:
    """`services` rolled to `release` one at a time, each waited for up to `wait_s` (a gate's own wait if given),
    recorded as deploy.started, one deploy.replaced each, deploy.halted if the gate stopped it, and deploy.done;
    a declared release fault of a service and the release it gets is in place from its replacement, put there `by`
    this deploy (lab.play.fault_set). Returns what happened. StepFailed if Compose refuses one, the gate's rollback
    included."""
    stage.log.emit(DeployStarted(release=release, services=list(services),
                                 health_gate=gate.model_dump() if gate else None))
    outcome = _Outcome()
    wait_s = gate.within_s if gate else wait_s
    for position, service in enumerate(services):
        previous = release_of(stage.stack, service)
        since = stage.faults.clock.now()
        try:
            deployed = deploy(stage.stack, service, release, wait_s)
        except StackError as exc:
            outcome.not_deployed += services[position:]
            stage.log.emit(outcome.done(release))
            raise StepFailed(f"deploy of {release} to {service} failed: {exc}") from exc
        stage.log.emit(DeployReplaced(service=service, release=release, previous=previous,
                                      container=deployed.container_id[:12], serving=bool(deployed.serving),
                                      detail=deployed.detail))
        outcome.said += stage.faults.follow(service)
        outcome.said += stage.faults.deployed(service, release, since, by)
        if deployed.serving:
            outcome.serving.append(service)
        elif gate is None:
            outcome.not_serving.append(service)
        else:
            rest = list(services[position + 1:])
            outcome.not_deployed += rest
            stage.log.emit(DeployHalted(release=release, service=service, within_s=gate.within_s,
                                        detail=deployed.detail, not_deployed=rest,
                                        rolling_back_to=previous if gate.roll_back else None))
            outcome.said.append(f"halted: {service} did not serve within {gate.within_s:g} s"
                                + (f"; not deployed: {', '.join(rest)}" if rest else ""))
            if gate.roll_back:
                _roll_back(stage, service, release, previous, outcome)
            else:
                outcome.not_serving.append(service)
            break
    stage.log.emit(outcome.done(release))
    replaced = [service for service in services if service not in outcome.not_deployed]
    told = f"{', '.join(replaced)} on release {release}"
    if outcome.not_serving and gate is None:
        told += f"; not serving: {', '.join(outcome.not_serving)}"
    return told + "".join(f"; {line}" for line in outcome.said)


def _roll_back(stage: Stage, service: str, release: str, previous: str, outcome: _Outcome) -> None:
    """The gate's rollback of `service` to `previous`, recorded as a deploy.replaced of its own. StepFailed (after
    deploy.done) if Compose refuses it: the service is left on `release`, not serving."""
    try:
        deployed = deploy(stage.stack, service, previous, DEPLOY_WAIT_S)
    except StackError as exc:
        outcome.not_serving.append(service)
        stage.log.emit(outcome.done(release))
        raise StepFailed(f"the health gate's rollback of {service} to {previous} failed: {exc}") from exc
    stage.log.emit(DeployReplaced(service=service, release=previous, previous=release, rollback=True,
                                  container=deployed.container_id[:12], serving=bool(deployed.serving),
                                  detail=deployed.detail))
    outcome.rolled_back.append(service)
    outcome.said.append(f"{service} rolled back to {previous}" + (
        "" if deployed.serving else f", which does not serve either: {deployed.detail}"))
    outcome.said += stage.faults.follow(service)

