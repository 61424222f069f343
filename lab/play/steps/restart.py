"""restart: a responder restarts a service, and the step ends once it serves again. Every fault in effect follows
the service if it came back at another address: a restart cannot fix by accident what it did not fix in the
incident."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from lab.document import ServiceName
from lab.play.steps.base import StepBase
from lab.record.schema import ActionRestarted
from lab.stack.project import RESTART_STOP_S, RESTART_WAIT_S

if TYPE_CHECKING:
    from lab.play.stage import Stage


class RestartStep(StepBase):
    """A responder restarts a service."""

    action: Literal["restart"]
    order: ClassVar[int] = 40
    service_name: ServiceName = Field(alias="service")
    in_runbook: ClassVar[bool] = True

    @property
    def service(self) -> str | None:
        return self.service_name

    def overrun_s(self) -> float:
        """A stop, then the wait until the service serves again."""
        return RESTART_STOP_S + RESTART_WAIT_S

    def perform(self, stage: Stage) -> str:
        service = self.service_name

        def restart() -> str:
            stage.stack.restart(service)
            stage.log.emit(ActionRestarted(service=service))
            moved = stage.faults.follow(service)  # at once: the service has its new address from its start on
            stage.stack.wait_serving(service)
            return f"{service} restarted and healthy again" + "".join(f"; {line}" for line in moved)

        return stage.as_responder(f"restart step {self.index}", frozenset({service}), restart)
