"""Scenario files: parsed once at the boundary into frozen models, every problem reported at once with its field
path.

A scenario replays an incident on a stack. Its timeline is written in incident minutes (`at`, optionally
labelled with the incident's wall clock, `clock: "14:20"`); `time.seconds_per_incident_minute` compresses it
(`time.pace` plays later parts at other paces), and `--speed` compresses it further. Faults are written in their
family's own terms (`lab faults`); the parser knows no family by name: the registry gives it their parameter models.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args

import yaml
from pydantic import AfterValidator, Field, PrivateAttr, ValidationError, create_model, field_validator, model_validator

from lab.document import (
    DocumentModel,
    FieldProblem,
    PositiveSeconds,
    Ratio,
    Seconds,
    ServiceName,
    Topology,
    problems,
)
from lab.errors import InvalidInput, ScenarioError
from lab.faults import families
from lab.faults.base import FaultSpec
from lab.scenario.workload import WorkloadRequest, WorkloadSpec, orders_workload
from lab.stack.knobs import KnobChanges, StackKnobs
from lab.stack.project import BUILTIN_TOPOLOGY, RESTART_STOP_S, RESTART_WAIT_S
from lab.stack.spec import BUILTIN_STACK, StackSpec
from lab.stack.topology import ComposeTopology, read_topology

CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_RATE = 1000.0
"""The highest rate measured to pass every check of the seed scenario on the reference 2-core machine, the stack
and the lab sharing it (bench/RESULTS.md, 2026-12-06: 13 runs of 13 at --speed 10, start lateness p99 1.8-5.7 ms,
the host 60-122% busy of its 200%): on a busier or smaller machine the generator's own check says when it fell
behind (exit 5), and the steady-state check when the stack did not serve the rate (500 req/s passed with one core
taken by another process)."""
MIN_STEP_GAP_S = 0.2
"""Distinct steps closer than this cannot be told apart on the recording (a step itself takes milliseconds)."""
FAULT_WINDOW_MARGIN_S = 1.0
"""A fault window must outlast the longest alert window by this much, or the checks cannot see the fault."""
MIN_FAULT_WINDOW_S = 3.0
RESTART_JUDGING_S = 7.0
"""A restart judged by `restart_ineffective` needs this long between it and the end of its fault's window: its own
time (a database restart takes 1-2 s), the settle after it (RESTART_SETTLE_S, 1 s), the requests the fix may still
save (they began less than a failure's duration before it: 3 s with the built-in pool) and about a second of
requests to judge by: 0.8-1.1 s measured on the seed at speed 10, 21-23 requests at the default rate and 190 at
250 req/s, a third of them on the faulty replica (bench/RESULTS.md). A window left empty fails the check saying so."""
MAX_INCIDENT_MINUTES = 7 * 24 * 60
MIN_SPEED = 0.01
"""The slowest --speed of `lab run` and `lab replay`: 100 times slower than written or recorded. Nobody waits for
slower, and a speed near 0 made a wait too long for the clock to take (OverflowError)."""
MAX_LAB_S = 24 * 60 * 60
"""The longest a replay may last at speed 1, as a drill may (`drill.max_duration_s`): a day. Without a bound, a time
scale of 1e300 seconds per minute passed validation with a 300-digit duration, and 1.7e308 an infinite one."""
Milestone = Literal["investigating", "identified", "mitigation", "resolved"]
NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,59}")
"""A scenario's name, as the library's are: it names the run directory (`runs/<utc>-<name>-<variant>`) and the file
`lab new` writes, so no path separator, dot, space or newline can take either elsewhere or break the shell line
that names it."""
VARIANT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


def _name_check(rule: re.Pattern[str], longest: int) -> Callable[[str], str]:
    """Checks a name with `rule` in full (a schema's `$` would let a trailing newline through), saying what a name
    may hold rather than quoting the expression."""

    def check(value: str) -> str:
        if rule.fullmatch(value) is None:
            raise ValueError(f"must be lowercase letters, digits and dashes, starting with a letter or digit, at most "
                             f"{longest} characters, got {value!r}")
        return value

    return check


ScenarioName = Annotated[str, Field(json_schema_extra={"pattern": f"^{NAME.pattern}$"}),
                         AfterValidator(_name_check(NAME, 60))]
VariantName = Annotated[str, Field(json_schema_extra={"pattern": f"^{VARIANT_NAME.pattern}$"}),
                        AfterValidator(_name_check(VARIANT_NAME, 40))]


class PaceChange(DocumentModel):
    """From an incident minute on, the timeline plays at another pace."""

    at_minutes: float = Field(alias="at", strict=True, gt=0, le=MAX_INCIDENT_MINUTES,
                              description="The incident minute the new pace starts at.")
    seconds_per_incident_minute: PositiveSeconds = Field(le=MAX_LAB_S,
                                                         description="Lab seconds per incident minute from then on.")


class TimeSpec(DocumentModel):
    incident_start: str = Field("00:00", pattern=CLOCK.pattern,
                                description="The incident's wall clock at minute 0, e.g. \"14:00\".")
    seconds_per_incident_minute: PositiveSeconds = Field(1.0, le=MAX_LAB_S,
                                                         description="Lab seconds per incident minute.")
    pace: tuple[PaceChange, ...] = Field((), description=(
        "Later parts of the incident played at other paces, in order of `at`: a short fault in a long incident "
        "slow enough to be seen, its day of aftermath fast-forwarded."))
    steady_state_s: float = Field(10.0, strict=True, ge=3, le=3600, description=(
        "Lab seconds of normal traffic before minute 0: the baseline the impact is measured against."))
    tail_s: float = Field(10.0, strict=True, ge=0, le=3600,
                          description="Lab seconds observed after the last step (after it ended, if it ran "
                                      "late), to see the recovery.")

    @model_validator(mode="after")
    def _pace_in_order(self) -> TimeSpec:
        starts = [change.at_minutes for change in self.pace]
        if starts != sorted(set(starts)):
            raise FieldProblem("pace", f"must be in increasing order of `at`, got {[f'{m:g}' for m in starts]}")
        return self

    def lab_seconds(self, minutes: float) -> float:
        """Lab seconds from the incident's minute 0 to minute `minutes`, at the pace of each part."""
        total, since, scale = 0.0, 0.0, self.seconds_per_incident_minute
        for change in self.pace:
            if minutes <= change.at_minutes:
                break
            total += (change.at_minutes - since) * scale
            since, scale = change.at_minutes, change.seconds_per_incident_minute
        return total + (minutes - since) * scale

    def incident_minutes(self, seconds: float) -> float:
        """The incident minute `seconds` lab seconds after minute 0 (lab_seconds the other way round)."""
        spent, since, scale = 0.0, 0.0, self.seconds_per_incident_minute
        for change in self.pace:
            part = (change.at_minutes - since) * scale
            if seconds <= spent + part:
                break
            spent += part
            since, scale = change.at_minutes, change.seconds_per_incident_minute
        return since + (seconds - spent) / scale

    def faster(self, speed: float) -> TimeSpec:
        """Every pace `speed` times faster (steady state and tail stay as written)."""
        pace = tuple(change.model_copy(update={"seconds_per_incident_minute": change.seconds_per_incident_minute
                                               / speed}) for change in self.pace)
        return self.model_copy(update={"seconds_per_incident_minute": self.seconds_per_incident_minute / speed,
                                       "pace": pace})


class TrafficSpec(DocumentModel):
    rate: float = Field(20.0, strict=True, gt=0, le=MAX_RATE, description="Synthetic users' requests per second.")
    read_ratio: Ratio = Field(0.7, description="Share of reads (GET); the rest are writes.")
    timeout_s: float = Field(10.0, strict=True, gt=0, le=120, description="A user gives up after this long.")
    max_lateness_p99_s: float = Field(0.05, strict=True, gt=0, le=60, description=(
        "The load generator kept up if 99% of requests started at most this long after their planned start; "
        "otherwise the recording is judged unreliable. The default is far below what the checks judge (latency "
        "bounds of a second, windows of seconds) and far above a generator that keeps up on a busy 2-core machine "
        "(p99 under 20 ms); one that fell behind is late by hundreds of ms."))


class StepBase(DocumentModel):
    action: str
    at_minutes: float = Field(alias="at", strict=True, ge=0, le=MAX_INCIDENT_MINUTES,
                              description="Incident minute of the step.")
    clock: str = Field("", pattern=r"^(([01]\d|2[0-3]):([0-5]\d))?$",
                       description="The incident's wall clock at this step (checked against incident_start + at).")
    text: str = Field("", description="What happened, in the incident's words.")
    milestone: Milestone | None = Field(None, description="Marks the incident milestone this step is.")
    _index: int = PrivateAttr(0)

    @property
    def index(self) -> int:
        return self._index

    @property
    def fault(self) -> str | None:
        return None

    @property
    def service(self) -> str | None:
        return None

    @property
    def command(self) -> tuple[str, ...]:
        return ()


class NoteStep(StepBase):
    """A line on the timeline: something people did or learnt."""

    action: Literal["note"]
    text: str = Field(min_length=1, description="What happened.")


class ApplyStep(StepBase):
    """The fault lands."""

    action: Literal["apply"]
    fault_id: str = Field(alias="fault", description="The id of a fault declared under `faults`.")

    @property
    def fault(self) -> str | None:
        return self.fault_id


class RevertStep(StepBase):
    """The lab removes the fault (the incident's fix, played by the lab)."""

    action: Literal["revert"]
    fault_id: str = Field(alias="fault", description="The id of a fault declared under `faults`.")

    @property
    def fault(self) -> str | None:
        return self.fault_id


class RestartStep(StepBase):
    """A responder restarts a service."""

    action: Literal["restart"]
    service_name: ServiceName = Field(alias="service")

    @property
    def service(self) -> str | None:
        return self.service_name


class RunbookStep(StepBase):
    """A responder's command, run as they would run it: inside a service (`service`), in a service's network
    namespace from the tools image with NET_ADMIN only (`netns`), or a team's own script on the host (`script`, a
    path relative to the scenario file, given `args`). Always argv, never a shell string; its exit code, output
    tail and duration go on the timeline. The lab fixes nothing for it: it observes whether the fault is gone."""

    action: Literal["runbook"]
    service_name: ServiceName | None = Field(None, alias="service", description="Run `command` inside this service.")
    netns: ServiceName | None = Field(None, description="Run `command` in this service's network namespace "
                                                        "(the tools image: iptables, ip, tc, ss; NET_ADMIN only).")
    script: str | None = Field(None, min_length=1, description="A script on the host, relative to the scenario file.")
    argv: tuple[str, ...] = Field((), alias="command", description="argv, e.g. [iptables, -S, OUTPUT].")
    args: tuple[str, ...] = Field((), description="The script's arguments.")
    timeout_s: float = Field(60.0, strict=True, gt=0, le=3600, description="The step fails if it runs longer.")

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


Step = Annotated[Union[NoteStep, ApplyStep, RevertStep, RestartStep, RunbookStep],  # noqa: UP007 - a tagged union
                 Field(discriminator="action")]
STEP_TYPES: tuple[type[StepBase], ...] = (NoteStep, ApplyStep, RevertStep, RestartStep, RunbookStep)
ACTIONS = tuple(str(get_args(t.model_fields["action"].annotation)[0]) for t in STEP_TYPES)


class AlertRule(DocumentModel):
    name: str = Field(min_length=1)
    error_rate_above: Ratio
    window_s: float = Field(3.0, strict=True, gt=0, le=600)
    min_requests: int = Field(5, strict=True, ge=1)


class SteadyStateCheck(DocumentModel):
    max_error_rate: Ratio = Field(
        0.01, description="At most this share of the requests before the fault fail; one answered slower than the "
                          "recovery rule's max_latency_s counts as failed, as it does for the recovery.")


class ImpactCheck(DocumentModel):
    min_error_rate: Ratio
    max_error_rate: Ratio = 1.0
    min_failure_latency_s: Seconds | None = Field(None, description="Failures must be this slow (slow pages).")
    max_failure_latency_s: Seconds | None = Field(None, description="Failures must be this fast (fail fast).")
    max_impact_share: Ratio | None = Field(
        None, description="At most this share of the fault window may have users affected (a second counts when "
                          "more than 5% of its requests failed or were slower than the recovery rule allows).")
    min_impact_share: Ratio | None = Field(
        None, description="At least this share of the fault window had users affected: the outage lasted as long "
                          "as the fault, not only while pools drained.")
    fault: str | None = Field(None, description="Judge this fault's window only (default: every fault's).")


class DetectionCheck(DocumentModel):
    within_s: PositiveSeconds


class RestartIneffectiveCheck(DocumentModel):
    min_error_rate: Ratio


class RecoveryCheck(DocumentModel):
    within_s: PositiveSeconds
    window_s: PositiveSeconds = 3.0
    max_error_rate: Ratio = 0.01
    max_latency_s: PositiveSeconds = 1.0


class ErrorCauseCheck(DocumentModel):
    """The errors of the fault window name the incident's cause: a share of them (the users' or the apps') say one
    of the given texts."""

    source: Literal["users", "app"] = Field(
        "app", description="users: the errors users got; app: the database errors the app replicas logged.")
    during: str | None = Field(None, min_length=1, description="Only the app errors logged while doing this "
                                                             "(connect, read_order, create_order, readyz).")
    contains: tuple[str, ...] = Field(min_length=1, description="Texts the errors say (any of them), e.g. "
                                                                "\"Name or service not known\".")
    min_share: Ratio = Field(0.9, description="At least this share of those errors say one of the texts.")

    @field_validator("contains", mode="before")
    @classmethod
    def _one_text_is_a_list(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value


class InRotationCheck(DocumentModel):
    """The load balancer kept every app replica in rotation through the fault: its health check saw nothing."""

    min_share: Ratio = Field(0.2, description="Each replica that served before the fault answered at least this "
                                              "share of the requests started during it.")


class NoWriteLostCheck(DocumentModel):
    """Every write the app acknowledged is in the database at the end."""


class FaultRemovedCheck(DocumentModel):
    """Every fault the timeline does not revert itself is gone before the run's cleanup: the runbook removed it."""


class Checks(DocumentModel):
    steady_state: SteadyStateCheck | None = None
    impact: ImpactCheck | None = None
    fault_impacts: tuple[ImpactCheck, ...] | None = Field(
        None, description="Impact checks of single fault windows, each naming its `fault`: an incident in phases.")
    detection: DetectionCheck | None = None
    restart_ineffective: RestartIneffectiveCheck | None = None
    recovery: RecoveryCheck | None = None
    fault_removed: FaultRemovedCheck | None = None
    error_cause: ErrorCauseCheck | None = None
    in_rotation: InRotationCheck | None = None
    no_write_lost: NoWriteLostCheck | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _bare_section_is_empty(cls, value: Any) -> Any:
        """`no_write_lost:` alone turns a check on; `false` turns it off (a variant dropping a scenario's check)."""
        if value is False:
            return None
        return {} if value is None else value

    def recovery_criteria(self) -> RecoveryCheck:
        """The recovery rule (users back to steady state), the scenario's or the default one."""
        return self.recovery or RecoveryCheck.model_construct(within_s=float("inf"))  # unbounded: not a document


class Hint(DocumentModel):
    after_s: Seconds | None = Field(None, description="Released by itself this long after the fault; "
                                                      "None: only on request.")
    text: str = Field(min_length=1)


class DrillSpec(DocumentModel):
    inject_after_s: tuple[Seconds, Seconds] = Field(
        (20.0, 60.0), description="The fault lands at a moment in this window (seconds after traffic starts).")
    max_duration_s: float = Field(1800.0, strict=True, gt=0, le=MAX_LAB_S)
    hints: tuple[Hint, ...] = ()
    faults: tuple[str, ...] = Field((), description="Faults a drill draws from (default: every declared fault).")

    @model_validator(mode="after")
    def _window_in_order(self) -> DrillSpec:
        if self.inject_after_s[0] > self.inject_after_s[1]:
            raise FieldProblem("inject_after_s", f"must be [earliest, latest] with earliest <= latest, got "
                                                 f"{list(self.inject_after_s)}")
        return self


class Variant(DocumentModel):
    """A corrective measure, proven: the same timeline on a stack changed as the measure says."""

    name: VariantName = Field(description="`lab run SCENARIO --variant NAME`.")
    measure: str = Field(min_length=1, description="The corrective measure it proves, in the postmortem's words.")
    knobs: KnobChanges = Field(default_factory=KnobChanges, description="What the measure changes in the stack.")
    checks: Checks | None = Field(None, description="Check sections that replace the scenario's for this variant "
                                                    "(what the measure must achieve).")


class Scenario(DocumentModel):
    """One incident to replay. `faults` holds each family's own spec (a FaultSpec subclass)."""

    name: ScenarioName = Field("", description="Defaults to the file name.")
    title: str = Field(min_length=1)
    source: str = Field("(not given)", min_length=1, description="Where the incident is told (URL or file).")
    postmortem: str | None = Field(None, description="The postmortem's text, shipped next to the scenario file.")
    difficulty: Literal["easy", "medium", "hard"] = Field("medium", description="For drills drawn at random.")
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
    checks: Checks = Checks()
    drill: DrillSpec = DrillSpec()
    _document: dict[str, Any] = PrivateAttr(default_factory=dict)
    _base_dir: Path = PrivateAttr(default_factory=Path)
    _variant: Variant | None = PrivateAttr(None)
    _topology: Topology = PrivateAttr(BUILTIN_TOPOLOGY)

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
        """The corrective measure this run proves (`with_variant`), if any."""
        return self._variant

    def with_variant(self, name: str) -> Scenario:
        """The same incident on the stack the variant's measure changes, judged by the variant's checks."""
        chosen = next((v for v in self.variants if v.name == name), None)
        if chosen is None:
            known = ", ".join(v.name for v in self.variants) or "none"
            raise InvalidInput(f"scenario {self.name} has no variant {name!r} (variants: {known})")
        checks = self.checks
        if chosen.checks is not None:  # the sections it names replace the scenario's
            checks = checks.model_copy(update={key: getattr(chosen.checks, key)
                                               for key in chosen.checks.model_fields_set})
        varied = self.model_copy(update={"knobs": chosen.knobs.applied_to(self.knobs), "checks": checks})
        varied._variant = chosen
        return varied

    @property
    def base_dir(self) -> Path:
        """The directory the scenario file is in: runbook scripts are found relative to it."""
        return self._base_dir

    @property
    def document(self) -> dict[str, Any]:
        """The YAML document as read (what `outputs.write_scenario` keeps beside the recording)."""
        return self._document

    def offset_s(self, at_minutes: float) -> float:
        """Lab offset (seconds since the run started) of an incident minute."""
        return self.time.steady_state_s + self.time.lab_seconds(at_minutes)

    @property
    def duration_s(self) -> float:
        last = max((step.at_minutes for step in self.timeline), default=0.0)
        return self.offset_s(last) + self.time.tail_s

    def overrun_s(self, since_minutes: float = 0.0) -> float:
        """How much later than planned the steps from `since_minutes` on may end (lab.play.timeline): each runbook step
        taking as long as it may (its timeout), each restart a stop and the wait until the service serves again."""
        later = [step for step in self.timeline if step.at_minutes >= since_minutes]
        return sum(step.timeout_s for step in later if isinstance(step, RunbookStep)) + \
            sum(RESTART_STOP_S + RESTART_WAIT_S for step in later if isinstance(step, RestartStep))

    def fault(self, fault_id: str) -> FaultSpec:
        return next(f for f in self.faults if f.id == fault_id)

    def fault_windows(self) -> dict[str, tuple[float, float]]:
        """Fault id -> (apply, planned end) in incident minutes: its revert step; without one, the runbook step
        meant to remove it (the first mitigation after it), else the last step."""
        windows = {}
        last = max((step.at_minutes for step in self.timeline), default=0.0)
        for apply in (s for s in self.timeline if isinstance(s, ApplyStep)):
            later = [s for s in self.timeline if s.at_minutes >= apply.at_minutes and s.index > apply.index]
            revert = next((s for s in later if isinstance(s, RevertStep) and s.fault_id == apply.fault_id), None)
            fix = next((s for s in later if isinstance(s, RunbookStep) and s.milestone == "mitigation"), None)
            end = revert or fix
            windows[apply.fault_id] = (apply.at_minutes, end.at_minutes if end else last)
        return windows

    def max_speed(self) -> float:
        """The largest --speed at which the recording can still tell the steps apart, every fault window outlasts
        the alert windows that must see it, and a restart judged by the checks leaves time to judge it."""
        lab_s = self.time.lab_seconds
        limits = [math.inf]
        instants = sorted({step.at_minutes for step in self.timeline})
        gaps = [lab_s(later) - lab_s(earlier) for earlier, later in itertools.pairwise(instants)]
        if gaps:
            limits.append(min(gaps) / MIN_STEP_GAP_S)
        longest_alert = max((alert.window_s for alert in self.alerts), default=0.0)
        need = max(MIN_FAULT_WINDOW_S, longest_alert + FAULT_WINDOW_MARGIN_S)
        windows = self.fault_windows().values()
        limits += [(lab_s(end) - lab_s(start)) / need for start, end in windows if end > start]
        if self.checks.restart_ineffective is not None:
            restarts = [step.at_minutes for step in self.timeline if isinstance(step, RestartStep)]
            limits += [(lab_s(end) - lab_s(at)) / RESTART_JUDGING_S
                       for start, end in windows for at in restarts if start <= at < end]
        return min(limits)

    def with_runbook(self, steps: tuple[StepBase, ...], source: str) -> Scenario:
        """The same incident with the runbook steps of a separate runbook file (`lab run --runbook FILE`) in place of
        the scenario's own: its runbook steps go, the file's steps come, all in time order."""
        kept = [step for step in self.timeline if not isinstance(step, RunbookStep)]
        merged = sorted([*kept, *steps], key=lambda step: step.at_minutes)  # stable: the scenario's first
        replaced = _finish(self.model_copy(update={"timeline": tuple(merged)}), self.name)
        found = cross_check(replaced)
        if found:
            raise ScenarioError(source, found)
        document = dict(self.document)
        document["timeline"] = [step.model_dump(mode="json", by_alias=True, exclude_defaults=True)
                                for step in replaced.timeline]
        replaced._document = document
        return replaced

    def with_speed(self, speed: float) -> Scenario:
        """The same scenario played `speed` times faster (steady state and tail stay as written)."""
        check_speed(speed)
        if speed > self.max_speed():
            raise InvalidInput(
                f"--speed {speed:g} squeezes {self.name} too much: its steps would blur together, a fault window "
                f"would be shorter than the alert windows that must see it, or a restart would come too close to "
                f"the fix to judge whether it helped; the largest speed it allows is "
                f"{math.floor(self.max_speed() * 10) / 10:g}")
        played = self.model_copy(update={"time": self.time.faster(speed)})
        if played.duration_s > MAX_LAB_S:
            raise InvalidInput(f"--speed {speed:g} would make {self.name} last {played.duration_s:.0f} s, more than a "
                               f"day ({MAX_LAB_S} s)")
        slowest = max((played.time.seconds_per_incident_minute,
                       *(change.seconds_per_incident_minute for change in played.time.pace)))
        if slowest > MAX_LAB_S:  # the run writes its scenario at this pace: every reader of the recording checks it
            raise InvalidInput(f"--speed {speed:g} would play an incident minute of {self.name} in {slowest:.0f} s, "
                               f"more than a day ({MAX_LAB_S} s)")
        return played


def check_speed(speed: float) -> None:
    """A --speed that a run or a replay can be paced by (nan and inf pass a range check: they compare as neither)."""
    if not speed > 0 or not math.isfinite(speed):
        raise InvalidInput(f"--speed must be greater than 0 (and finite), got {speed}")
    if speed < MIN_SPEED:
        raise InvalidInput(f"--speed must be at least {MIN_SPEED:g}, got {speed:g}")


@cache
def document_model() -> type[Scenario]:
    """The Scenario model with `faults` typed as the union of every registered family's spec (tagged by kind)."""
    specs = tuple(family.spec for family in families().values())
    member: Any = specs[0] if len(specs) == 1 else Annotated[Union[specs], Field(discriminator="kind")]  # noqa: UP007
    model: type[Scenario] = create_model("Scenario", __base__=Scenario, __module__=__name__,
                                         faults=(tuple[member, ...], ()))
    return model


def json_schema() -> str:
    """The JSON Schema of scenario files (every registered family's parameters included)."""
    document = document_model().model_json_schema(by_alias=True)
    document = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "outage-lab scenario",
                **{key: value for key, value in document.items() if key != "title"}}
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def discriminators() -> dict[str, str]:
    """Values that tag a union member in pydantic's error locations (never written by a user as a key), and the
    field that holds them."""
    return {**{kind: "kind" for kind in families()}, **{action: "action" for action in ACTIONS}}


def resolve(name_or_path: str, scenario_dirs: tuple[Path, ...]) -> Path:
    """A scenario name (`db-network-misconfig`, looked up in `scenario_dirs` in order) or a path to a YAML file."""
    path = Path(name_or_path)
    if path.is_dir():
        raise InvalidInput(f"{path} is a directory, not a scenario file (`lab validate {path}` checks each one)")
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise InvalidInput(f"scenario file {path} does not exist")
        return path
    for directory in scenario_dirs:
        candidate = directory / f"{name_or_path}.yaml"
        if candidate.is_file():
            return candidate
    known = ", ".join(sorted({p.stem for d in scenario_dirs for p in d.glob("*.yaml")})) or "none"
    raise InvalidInput(f"no scenario named {name_or_path!r} (known: {known})")


def load(path: Path, check_stack: bool = True) -> Scenario:
    """`check_stack`: as `parse`'s (False for the scenario kept beside a recording)."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read scenario {path}: {exc}") from exc
    return parse(text, source=str(path), default_name=path.stem, base_dir=path.resolve().parent,
                 check_stack=check_stack)


def parse(text: str, source: str = "<scenario>", default_name: str = "scenario", base_dir: Path | None = None,
          check_stack: bool = True) -> Scenario:
    """A scenario from its text. Service names are checked against its stack: the built-in one, or the team's
    Compose file named in `stack.compose_file` (relative to `base_dir`), whose topology is read first. A recording's
    scenario is parsed with `check_stack=False`: it was checked when it ran, and the team's file, or the
    environment it needs, may not be there any more."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(source, [f"not valid YAML{where}: {problem}"]) from exc
    except RecursionError as exc:
        raise ScenarioError(source, ["nested too deeply to be a scenario"]) from exc
    if document is None:
        raise ScenarioError(source, ["(file): is empty"])
    if not isinstance(document, dict):
        raise ScenarioError(source, [f"(file): must be a mapping, got {type(document).__name__}"])
    base = base_dir or Path.cwd()
    compose, topology = _stack_of(document, base, source) if check_stack else (None, None)
    try:
        scenario = document_model().model_validate(document, context={"topology": topology, "compose": compose})
    except ValidationError as exc:
        raise ScenarioError(source, problems(exc, discriminators())) from exc
    except RecursionError as exc:
        raise ScenarioError(source, ["nested too deeply to be a scenario"]) from exc
    scenario = _finish(scenario, default_name)
    if scenario.stack is not None:
        scenario = scenario.model_copy(update={"stack": scenario.stack.resolved(base)})
    found = cross_check(scenario)
    if found:
        raise ScenarioError(source, found)
    scenario._document = document
    scenario._base_dir = base
    scenario._topology = topology or BUILTIN_TOPOLOGY
    return scenario


def _stack_of(document: dict[str, Any], base: Path, source: str) -> tuple[ComposeTopology | None, Topology]:
    """The team's Compose topology, if the scenario names a Compose file, and the names its faults and steps may
    use. Read before the rest is validated, since every service name is checked against it."""
    stack = document.get("stack")
    if not isinstance(stack, dict) or not isinstance(stack.get("compose_file"), str):
        return None, BUILTIN_TOPOLOGY
    path = Path(stack["compose_file"])
    try:
        compose = read_topology(path if path.is_absolute() else base / path)
    except InvalidInput as exc:
        raise ScenarioError(source, [str(exc)]) from exc
    databases = tuple(str(d.get("service")) for d in stack.get("databases") or [] if isinstance(d, dict))
    return compose, Topology(services=tuple(compose.services), databases=databases)


class RunbookFile(DocumentModel):
    """A runbook kept apart from its incident: the responders' steps (`lab run SCENARIO --runbook FILE`)."""

    title: str = ""
    steps: tuple[Annotated[Union[NoteStep, RestartStep, RunbookStep],  # noqa: UP007 - a tagged union
                           Field(discriminator="action")], ...] = Field(min_length=1)


RUNBOOK_ACTIONS = {str(get_args(t.model_fields["action"].annotation)[0]): "action"
                   for t in (NoteStep, RestartStep, RunbookStep)}
"""The actions a runbook file's steps may take (the fault's apply and revert belong to the scenario)."""


def load_runbook(path: Path, topology: Topology) -> tuple[StepBase, ...]:
    """The steps of a runbook file, their scripts made absolute (they are relative to the runbook file)."""
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read runbook {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(str(path), [f"not valid YAML: {str(exc).splitlines()[0]}"]) from exc
    try:
        runbook = RunbookFile.model_validate(document, context={"topology": topology})
    except ValidationError as exc:
        raise ScenarioError(str(path), problems(exc, RUNBOOK_ACTIONS)) from exc
    base = path.resolve().parent
    return tuple(step.model_copy(update={"script": str(base / step.script)})
                 if isinstance(step, RunbookStep) and step.script and not Path(step.script).is_absolute() else step
                 for step in runbook.steps)


def _finish(scenario: Scenario, default_name: str) -> Scenario:
    """Fill what is derived: the name from the file, each step's index and clock."""
    steps = []
    for index, step in enumerate(scenario.timeline):
        if not step.clock:
            step = step.model_copy(update={"clock": _clock_after(scenario.time.incident_start, step.at_minutes)})
        step._index = index
        steps.append(step)
    return scenario.model_copy(update={"name": scenario.name or name_from(default_name), "timeline": tuple(steps)})


def name_from(words: str, default: str = "scenario") -> str:
    """A scenario name (NAME) made of any words, such as a file's stem (`Payments DB` -> `payments-db`) or a
    repository's folder (`lab init`); `default` if they hold no letter or digit. A name the file does not give
    names the run directory all the same."""
    return re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-")[:60].strip("-") or default


def cross_check(scenario: Scenario) -> list[str]:
    """Rules across sections: steps in order and on the incident's clock, faults applied once and reverted later,
    no two faults at once on one target, checks and drills naming faults that exist."""
    found: list[str] = []
    ids = [fault.id for fault in scenario.faults]
    for i, fault_id in enumerate(ids):
        if ids.index(fault_id) != i:
            found.append(f"faults[{i}].id: duplicate fault id {fault_id!r}")
    for previous, step in itertools.pairwise(scenario.timeline):
        if step.at_minutes < previous.at_minutes:
            found.append(f"timeline[{step.index}].at: {step.at_minutes:g} comes before the previous step's "
                         f"{previous.at_minutes:g}: steps must be in time order")
    if scenario.duration_s > MAX_LAB_S:
        found.append(f"time: the replay would last {scenario.duration_s:.0f} s at speed 1, more than a day "
                     f"({MAX_LAB_S} s): lower seconds_per_incident_minute (or a pace's)")
    for step in scenario.timeline:
        expected = _clock_after(scenario.time.incident_start, step.at_minutes)
        if step.clock != expected:
            found.append(f"timeline[{step.index}].clock: {step.clock} does not match incident_start + at ({expected})")
    found += _fault_windows_check(scenario, ids)
    found += _named_faults_check(scenario.checks, "checks", ids)
    for i, variant in enumerate(scenario.variants):
        if variant.checks is not None:
            found += _named_faults_check(variant.checks, f"variants[{i}].checks", ids)
    check = scenario.workload.write_check if scenario.workload else None
    if check is not None and check.database not in [d.service for d in scenario.stack_spec.databases]:
        found.append(f"workload.write_check.database: {check.database!r} is not one of stack.databases "
                     f"({', '.join(d.service for d in scenario.stack_spec.databases) or 'none'})")
    if scenario.checks.no_write_lost is not None and scenario.workload_spec.write_check is None:
        found.append("checks.no_write_lost: the workload declares no write_check to run")
    if scenario.stack is not None:
        found += [f"variants[{i}].knobs: knobs change the built-in stack only (this scenario runs on "
                  f"{Path(scenario.stack.compose_file).name})" for i, variant in enumerate(scenario.variants)
                  if variant.knobs.model_fields_set]
    names = [variant.name for variant in scenario.variants]
    for i, name in enumerate(names):
        if names.index(name) != i:
            found.append(f"variants[{i}].name: duplicate variant {name!r}")
    for i, fault_id in enumerate(scenario.drill.faults):
        if fault_id not in ids:
            found.append(f"drill.faults[{i}]: unknown fault {fault_id!r} (declared: {', '.join(ids) or 'none'})")
    return found


def _named_faults_check(checks: Checks, where: str, ids: list[str]) -> list[str]:
    """Impact checks judge the fault they name: it must be declared (and named, for a single fault's window)."""
    found: list[str] = []
    named = [(f"{where}.impact", checks.impact)] if checks.impact else []
    named += [(f"{where}.fault_impacts[{i}]", check) for i, check in enumerate(checks.fault_impacts or ())]
    for path, check in named:
        if check.fault is None and ".fault_impacts[" in path:
            found.append(f"{path}.fault: is required (the fault whose window it judges)")
        elif check.fault is not None and check.fault not in ids:
            found.append(f"{path}.fault: unknown fault {check.fault!r} (declared: {', '.join(ids) or 'none'})")
    return found


def _fault_windows_check(scenario: Scenario, ids: list[str]) -> list[str]:
    found: list[str] = []
    windows: dict[str, tuple[float, float]] = {}
    for step in scenario.timeline:
        if step.fault is None:
            continue
        where = f"timeline[{step.index}].fault"
        if step.fault not in ids:
            found.append(f"{where}: unknown fault {step.fault!r} (declared: {', '.join(ids) or 'none'})")
        elif isinstance(step, ApplyStep):
            if step.fault in windows:
                found.append(f"{where}: fault {step.fault!r} is applied twice")
            windows[step.fault] = (step.at_minutes, math.inf)
        elif step.fault not in windows or windows[step.fault][1] != math.inf:
            found.append(f"{where}: fault {step.fault!r} is reverted without being applied first")
        else:
            windows[step.fault] = (windows[step.fault][0], step.at_minutes)
    for fault_id, (start, end) in windows.items():
        runbook_after = any(isinstance(s, RunbookStep) and s.at_minutes >= start for s in scenario.timeline)
        if end == math.inf and not runbook_after:
            found.append(f"faults[{ids.index(fault_id)}]: fault {fault_id!r} is applied but never reverted: "
                         "add a revert step, or a runbook step that removes it")
    by_id = {fault.id: fault for fault in scenario.faults}
    applied = sorted(windows.items(), key=lambda item: item[1][0])
    for i, (first_id, (_, first_end)) in enumerate(applied):
        for second_id, (second_start, _) in applied[i + 1:]:
            same_target = by_id[first_id].target == by_id[second_id].target
            if same_target and second_start < first_end and by_id[first_id].kind == by_id[second_id].kind:
                found.append(f"faults[{ids.index(second_id)}]: overlaps fault {first_id!r} of the same kind on the "
                             f"same target {by_id[first_id].target!r}")
    return found


def _clock_after(start: str, minutes: float) -> str:
    hours, mins = (int(part) for part in start.split(":"))
    total = (hours * 60 + mins + round(minutes)) % (24 * 60)
    return f"{total // 60:02d}:{total % 60:02d}"
