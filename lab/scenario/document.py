"""A scenario: one incident to replay on a stack, as a frozen model read once from its file (lab.scenario.reader).

Its timeline is written in incident minutes (`at`, optionally labelled with the incident's wall clock, `clock:
"14:20"`); `time.seconds_per_incident_minute` compresses it (`time.pace` plays later parts at other paces), and
`--speed` compresses it further (lab.scenario.pacing). Faults, steps and checks are written in their kind's own
terms: the model knows none by name, their registries give it their models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PrivateAttr

from lab.document import DocumentModel, Topology
from lab.faults.base import FaultSpec
from lab.faults.release import deployed_faults
from lab.judge.checks import Checks, ChecksBase
from lab.play.steps.apply import ApplyStep
from lab.play.steps.base import StepBase
from lab.play.steps.deploy import DeployStep
from lab.play.steps.revert import RevertStep
from lab.play.steps.runbook import RunbookStep
from lab.scenario.alerts import AlertRule
from lab.scenario.causes import CAUSES_DESCRIPTION, Cause
from lab.scenario.drill import DrillSpec
from lab.scenario.names import ScenarioName
from lab.scenario.observe import ObserveSpec
from lab.scenario.steps import Step
from lab.scenario.timing import TimeSpec
from lab.scenario.traffic import TrafficSpec
from lab.scenario.variant import Variant
from lab.scenario.workload import WorkloadRequest, WorkloadSpec, orders_workload
from lab.stack.builtin import BUILTIN_STACK, BUILTIN_TOPOLOGY
from lab.stack.knobs import StackKnobs
from lab.stack.spec import StackSpec

if TYPE_CHECKING:
    ChecksSection = ChecksBase
else:  # the model built from the check kinds; typed by its base
    ChecksSection = Checks


class Scenario(DocumentModel):
    """One incident to replay. `faults` holds each family's own spec (a FaultSpec subclass, lab.scenario.schema)."""

    name: ScenarioName = Field("", description="Defaults to the file name.")
    title: str = Field(min_length=1)
    source: str = Field("(not given)", min_length=1, description="Where the incident is told (URL or file).")
    postmortem: str | None = Field(None, description="The postmortem's text, shipped next to the scenario file.")
    difficulty: Literal["easy", "medium", "hard"] = Field("medium", description="For drills drawn at random.")
    cause: Cause | None = Field(None, description=CAUSES_DESCRIPTION)
    summary: str = ""
    differences: str = Field("", description="Where the lab's reproduction differs from the real event.")
    root_cause: str = ""
    corrective_measures: tuple[str, ...] = ()
    stack: StackSpec | None = Field(None, description="A team's own Compose stack (default: the built-in one).")
    workload: WorkloadSpec | None = Field(None, description="What synthetic users ask for (default: the built-in "
                                                            "app's orders; on a team's stack, GET /).")
    knobs: StackKnobs = Field(default_factory=StackKnobs, description="The built-in stack as it was in the incident.")
    variants: tuple[Variant, ...] = ()
    time: TimeSpec = TimeSpec()
    traffic: TrafficSpec = TrafficSpec()
    faults: tuple[FaultSpec, ...] = ()
    timeline: tuple[Step, ...] = Field(min_length=1)
    alerts: tuple[AlertRule, ...] = ()
    observe: ObserveSpec | None = Field(None, description="The stack's Prometheus and Alertmanager for the run, "
                                                          "with the team's own alerting rules (built-in stack).")
    checks: ChecksSection = Field(default_factory=Checks)
    drill: DrillSpec = DrillSpec()
    _document: dict[str, Any] = PrivateAttr(default_factory=dict)
    _base_dir: Path = PrivateAttr(default_factory=Path)
    _variant: Variant | None = PrivateAttr(None)
    _topology: Topology = PrivateAttr(BUILTIN_TOPOLOGY)
    _speed: float = PrivateAttr(1.0)

    @property
    def topology(self) -> Topology:
        """The service names its stack has (what its faults and steps were checked against)."""
        return self._topology

    @property
    def workload_spec(self) -> WorkloadSpec:
        """Its workload: declared, or the built-in orders one, or GET / on a team's stack."""
        if self.workload is not None:
            return self.workload
        if self.stack is None:
            return orders_workload(self.traffic.read_ratio)
        return WorkloadSpec(requests=(WorkloadRequest(name="GET /", path="/"),))

    @property
    def stack_spec(self) -> StackSpec:
        """Its stack: the team's Compose file (path made absolute), or the built-in stack."""
        return self.stack or BUILTIN_STACK

    @property
    def variant(self) -> Variant | None:
        """The corrective measure this run proves (lab.scenario.shaping.with_variant), if any."""
        return self._variant

    @property
    def speed(self) -> float:
        """How many times faster than written it plays (lab.scenario.pacing.faster)."""
        return self._speed

    @property
    def base_dir(self) -> Path:
        """The directory the scenario file is in: runbook scripts are found relative to it."""
        return self._base_dir

    @property
    def document(self) -> dict[str, Any]:
        """The YAML document as read (what the run keeps beside its recording)."""
        return self._document

    def offset_s(self, at_minutes: float) -> float:
        """Lab offset (seconds since the run started) of an incident minute."""
        return self.time.steady_state_s + self.time.lab_seconds(at_minutes)

    @property
    def largest_rate(self) -> float:
        """The highest rate of synthetic users the scenario reaches: its traffic's, or a `load` step's."""
        stepped = [rate for step in self.timeline if isinstance(rate := getattr(step, "rate", None), float)]
        return max([self.traffic.rate, *stepped])

    @property
    def duration_s(self) -> float:
        last = max((step.at_minutes for step in self.timeline), default=0.0)
        return self.offset_s(last) + self.time.tail_s

    def overrun_s(self, since_minutes: float = 0.0) -> float:
        """How much later than planned the steps from `since_minutes` on may end: each taking as long as it may (a
        runbook step its timeout, a restart its stop and the wait until the service serves again)."""
        return sum(step.overrun_s() for step in self.timeline if step.at_minutes >= since_minutes)

    def fault(self, fault_id: str) -> FaultSpec:
        return next(f for f in self.faults if f.id == fault_id)

    def puts_in_place(self, step: StepBase) -> list[str]:
        """The faults a step puts in place: an apply step's, or the release faults a deploy step rolls onto their
        service (lab.faults.release.deployed_faults; the lab verifies it did, lab.play.fault_set)."""
        if isinstance(step, ApplyStep):
            return [step.fault_id]
        if isinstance(step, DeployStep):
            return [fault for service in step.services for fault in deployed_faults(self.faults, service, step.release)]
        return []

    def planned_fault_windows(self) -> dict[str, tuple[float, float]]:
        """Fault id -> (apply, planned end) in incident minutes: its revert step; without one, the runbook step
        meant to remove it (the first mitigation after it), else the last step. A deploy behind a health gate that
        rolls back ends the fault it puts in place itself, in lab seconds that --speed does not shorten."""
        windows = {}
        last = max((step.at_minutes for step in self.timeline), default=0.0)
        for start in self.timeline:
            for fault_id in self.puts_in_place(start):
                later = [s for s in self.timeline if s.at_minutes >= start.at_minutes and s.index > start.index]
                revert = next((s for s in later if isinstance(s, RevertStep) and s.fault_id == fault_id), None)
                fix = next((s for s in later if isinstance(s, RunbookStep) and s.milestone == "mitigation"), None)
                end = start if isinstance(start, DeployStep) and start.rolls_back else revert or fix
                windows[fault_id] = (start.at_minutes, end.at_minutes if end else last)
        return windows
