"""runbook: a responder's command, run as they would run it: inside a service, in a service's network namespace
(the tools image, NET_ADMIN only), or a team's own script on the host. Its exit code, output tail and duration go
on the timeline; the lab fixes nothing for it, the fault watch observes whether the fault went."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from lab.document import FieldProblem, ServiceName
from lab.play.steps.base import StepBase, StepFailed
from lab.record.schema import RunbookFinished

if TYPE_CHECKING:
    from lab.play.stage import Stage


class RunbookStep(StepBase):
    """A responder's command, run as they would run it: inside a service (`service`), in a service's network
    namespace from the tools image with NET_ADMIN only (`netns`), or a team's own script on the host (`script`, a
    path relative to the scenario file, given `args`). Always argv, never a shell string; its exit code, output
    tail and duration go on the timeline. The lab fixes nothing for it: it observes whether the fault is gone."""

    action: Literal["runbook"]
    order: ClassVar[int] = 50
    service_name: ServiceName | None = Field(None, alias="service", description="Run `command` inside this service.")
    netns: ServiceName | None = Field(None, description="Run `command` in this service's network namespace "
                                                        "(the tools image: iptables, ip, tc, ss; NET_ADMIN only).")
    script: str | None = Field(None, min_length=1, description="A script on the host, relative to the scenario file.")
    argv: tuple[str, ...] = Field((), alias="command", description="argv, e.g. [iptables, -S, OUTPUT].")
    args: tuple[str, ...] = Field((), description="The script's arguments.")
    timeout_s: float = Field(60.0, strict=True, gt=0, le=3600, description="The step fails if it runs longer.")
    in_runbook: ClassVar[bool] = True
    _home: Path | None = PrivateAttr(None)

    @field_validator("argv", "args", mode="before")
    @classmethod
    def _not_a_shell_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError("must be a list of arguments (argv), not a shell string")
        return value

    @field_validator("script")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError(f"must name a script, got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_place(self) -> RunbookStep:
        places = [name for name, value in (("service", self.service_name), ("netns", self.netns),
                                           ("script", self.script)) if value is not None]
        if len(places) != 1:
            raise FieldProblem("service", "give exactly one of service, netns or script"
                                          + (f" (got {', '.join(places)})" if places else ""))
        if self.script is None and not self.argv:
            raise FieldProblem("command", f"is required with {places[0]}")
        if self.script is not None and self.argv:
            raise FieldProblem("command", "does not go with script: give the script's arguments as args")
        if self.script is None and self.args:
            raise FieldProblem("args", "only goes with script")
        return self

    @property
    def where(self) -> str:
        """service, netns or host."""
        return "service" if self.service_name else ("netns" if self.netns else "host")

    @property
    def service(self) -> str | None:
        return self.service_name or self.netns

    @property
    def command(self) -> tuple[str, ...]:
        return self.argv if self.script is None else (self.script, *self.args)

    def script_path(self, base_dir: Path) -> Path:
        """The host script (relative paths are the scenario file's)."""
        assert self.script is not None  # a host step
        path = Path(self.script)
        return path if path.is_absolute() else base_dir / path

    def home(self, base_dir: Path) -> Path:
        """The directory its script must be in: the runbook file's, for a step read from one, else the scenario
        file's (`base_dir`)."""
        return self._home or base_dir

    def from_file_in(self, directory: Path) -> RunbookStep:
        """The step as read from a runbook file in `directory`: its script made absolute, and kept to that
        directory."""
        if self.script is None:
            return self
        moved = self.model_copy(update={"script": str(self.script_path(directory))})
        moved._home = directory
        return moved

    def overrun_s(self) -> float:
        return self.timeout_s

    def perform(self, stage: Stage) -> str:
        acts_on = self.service_name or self.netns
        return stage.as_responder(f"runbook step {self.index}", None if acts_on is None else frozenset({acts_on}),
                                  lambda: self._run(stage))

    def _run(self, stage: Stage) -> str:
        if self.where == "host":
            result = stage.runbook.on_host(self.script_path(stage.runbook.base_dir), self.args, self.timeout_s)
        else:
            assert self.service is not None  # a service or netns step
            result = stage.runbook.in_container(self.service, self.argv, self.timeout_s, netns=self.netns is not None)
        stage.log.emit(RunbookFinished(index=self.index, where=self.where, service=self.service,
                                       command=list(self.command), exit_code=result.exit_code,
                                       duration_s=result.duration_s, output=result.output))
        summary = result.summary(self.timeout_s)
        if not result.ok:
            raise StepFailed(summary)
        return summary
