"""Every kind of event a recording holds, and its fields: one declaration that the lab's writers construct (typed,
`EventLog.emit(FaultApplied(...))`) and that every reader checks a recording against where events.jsonl is read.

A field annotated with a Shape is one a reader takes apart: of the wrong type (a latency that is a word, an "ok" that
is the string "false", a status that is an array) it is its line's problem, said in one line naming the file and
line, not a TypeError deep in a report or a request silently counted as answered. It must be there if it has no
default (recordings made before a field existed lack the ones with a default). A field without a Shape is only ever
shown as it comes (a fault's target, a step's clock), so it is not checked."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, dataclass_transform

from lab.record.shapes import ARRAY, ATTEMPT, COUNT, FLAG, RATE, SECONDS, SIGNED_SECONDS, TEXT, TEXTS, TIME, WHOLE

Seconds = Annotated[float, SECONDS]
Text = Annotated[str, TEXT]
Flag = Annotated[bool, FLAG]
Count = Annotated[int, COUNT]
MaybeText = Annotated[str | None, TEXT.or_null()]
KINDS: dict[str, type[EventBody]] = {}
"""kind -> its declaration."""
WALL = TIME
"""Every event's wall time, set by the event log: milestones take their wall time from it."""


@dataclass_transform(kw_only_default=True, frozen_default=True)
class EventBody:
    """An event's own fields (the log adds `t`, `wall` and `kind`). A subclass declares a kind: it is made a frozen
    dataclass of its fields, keyword-only, and registered by its `kind`."""

    kind: ClassVar[str]
    __dataclass_fields__: ClassVar[dict[str, Any]]
    _names: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(frozen=True, kw_only=True)(cls)
        cls._names = tuple(field.name for field in dataclasses.fields(cls))
        KINDS[cls.kind] = cls

    def fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._names}


# --- the run ---------------------------------------------------------------------------------------------------

class RunStarted(EventBody):
    kind: ClassVar[str] = "run.started"
    run_id: str
    scenario: str
    rate: float
    variant: str | None
    lb_url: str
    seed: int
    mode: str
    speed: float
    planned_duration_s: float


class RunEnded(EventBody):
    kind: ClassVar[str] = "run.ended"
    partial: Flag = False
    reason: str
    requests_sent: int
    requests_recorded: int
    revert_problems: list[str]


class UserRequest(EventBody):
    """A synthetic user's request, once it ended: `t` is its planned start, and its latency runs from there. A retry
    (`attempt` 2 on) carries its operation's `seq` and first attempt's planned start (`first_t`)."""

    kind: ClassVar[str] = "request"
    latency_s: Seconds
    ok: Flag
    started_t: Annotated[float | None, SECONDS.or_null()] = None
    seq: int = 0
    endpoint: Text = ""
    status: Annotated[int | None, WHOLE.or_null()] = None
    replica: MaybeText = None
    error: MaybeText = None
    order_id: Any = None
    attempt: Annotated[int, ATTEMPT] = 1
    first_t: Annotated[float | None, SECONDS.or_null()] = None
    retry_in_s: Annotated[float | None, SECONDS.or_null()] = None
    """The backoff before the next attempt, if one was scheduled."""
    not_retried: MaybeText = None
    """Why a retryable failure had no next attempt: "budget" or "attempts" (lab.record.retries)."""


GENERATOR_SOURCE = "users"
"""The `source` of a recorder.warning that says the load generator failed: the recording is then unreliable."""


class RecorderWarning(EventBody):
    """A watcher, the fault watch or the load generator could not do its part (`source` says which)."""

    kind: ClassVar[str] = "recorder.warning"
    source: str
    message: str


# --- steps -----------------------------------------------------------------------------------------------------

class StepDue(EventBody):
    kind: ClassVar[str] = "step.due"
    index: int
    action: str
    planned_t: float
    clock: str
    text: str


class StepPrepared(EventBody):
    kind: ClassVar[str] = "step.prepared"
    index: int
    action: str
    took_s: float


class StepPrepareFailed(EventBody):
    kind: ClassVar[str] = "step.prepare_failed"
    index: int
    error: str


class Step(EventBody):
    """A step performed (or a drill's milestone reached), `t` when it started."""

    kind: ClassVar[str] = "step"
    index: Count
    action: Text
    planned_t: Seconds
    skew_s: Annotated[float, SIGNED_SECONDS]
    took_s: Seconds
    ok: Flag = True
    detail: str
    clock: str
    text: str
    milestone: MaybeText = None
    fault: MaybeText = None
    service: MaybeText = None
    command: list[str] | None = None


class RunbookFinished(EventBody):
    kind: ClassVar[str] = "runbook.finished"
    index: Count
    where: Text
    service: MaybeText
    command: Annotated[list[str], TEXTS]
    exit_code: Annotated[int | None, WHOLE.or_null()]
    duration_s: Seconds
    output: Text


class ActionRestarted(EventBody):
    kind: ClassVar[str] = "action.restarted"
    service: str


class TrafficChanged(EventBody):
    """The synthetic users' rate changes from the next request on (a `load` step), reached over `ramp_s`."""

    kind: ClassVar[str] = "traffic.changed"
    rate: float
    ramp_s: Seconds


class DeployStarted(EventBody):
    """A `deploy` step begins: `services` rolled to `release`, one at a time, behind a health gate if given (its
    `within_s` and `roll_back`)."""

    kind: ClassVar[str] = "deploy.started"
    release: Text
    services: list[str]
    health_gate: dict[str, Any] | None = None


class DeployReplaced(EventBody):
    """One service of a deploy recreated on its new release (or, `rollback`, back on the one it ran before, by the
    health gate): serving, or not within the deploy's wait (why)."""

    kind: ClassVar[str] = "deploy.replaced"
    service: Text
    release: Text
    previous: str
    container: str
    serving: Flag
    detail: str = ""
    rollback: Flag = False


class DeployHalted(EventBody):
    """A deploy's health gate stopped it: `service` did not serve within `within_s` of its replacement, and
    `not_deployed` keep the release they run; `rolling_back_to` the release the gate puts `service` back on (None:
    it stays on the new one)."""

    kind: ClassVar[str] = "deploy.halted"
    release: str
    service: Text
    within_s: float
    detail: str
    not_deployed: Annotated[list[str], TEXTS]
    rolling_back_to: str | None = None


class DeployDone(EventBody):
    """A `deploy` step ends, each of its services in one list: serving on the new release, replaced but not serving
    on it, put back on its previous release by the health gate, or never replaced (after a halt, or once Compose
    refused one)."""

    kind: ClassVar[str] = "deploy.done"
    release: str
    serving: list[str]
    not_serving: list[str]
    rolled_back: list[str] = dataclasses.field(default_factory=list)
    not_deployed: list[str] = dataclasses.field(default_factory=list)


# --- faults ----------------------------------------------------------------------------------------------------

class FaultApplied(EventBody):
    """A fault put in place (`t`: when it began), by its apply step or by a deploy (`by`: "deploy step 0")."""
    kind: ClassVar[str] = "fault.applied"
    fault: str
    target: str
    fault_kind: str
    effect_s: float
    detail: str
    by: MaybeText = None


class FaultVerified(EventBody):
    kind: ClassVar[str] = "fault.verified"
    fault: str
    applied: bool
    detail: str


class FaultReverted(EventBody):
    kind: ClassVar[str] = "fault.reverted"
    fault: str
    target: str
    outcome: str
    cleanup: bool


class FaultCleanup(EventBody):
    """A fault still applied at the play's end, before its revert: `still_in_effect` says whether it was."""

    kind: ClassVar[str] = "fault.cleanup"
    fault: str
    still_in_effect: Flag = False
    detail: str


class FaultRevertFailed(EventBody):
    kind: ClassVar[str] = "fault.revert_failed"
    fault: str
    error: str


class FaultFollowed(EventBody):
    kind: ClassVar[str] = "fault.followed"
    fault: str
    service: str
    detail: str


class FaultLost(EventBody):
    """A fault went while the lab did not revert it; `by` the responder's action credited, or "outside"."""

    kind: ClassVar[str] = "fault.lost"
    fault: str
    by: str
    last_seen_t: float
    noticed_t: float


# --- what users, apps, alerts and the engine said --------------------------------------------------------------

class AlertFired(EventBody):
    """An alert began firing: one of the lab's own rules over the users' requests (`source` "lab": the error rate it
    saw, its threshold and window), or a Prometheus alerting rule of the scenario's (`source` "prometheus": the value
    of its expression when it went active, as Prometheus's alerts API gives it)."""

    kind: ClassVar[str] = "alert.fired"
    alert: Text
    error_rate: Annotated[float | None, RATE.or_null()] = None
    threshold: float | None = None
    window_s: float | None = None
    source: Text = "lab"
    value: float | None = None


class AlertResolved(EventBody):
    kind: ClassVar[str] = "alert.resolved"
    alert: Text
    error_rate: float | None = None
    threshold: float | None = None
    window_s: float | None = None
    source: Text = "lab"


def alert_saw(event: Mapping[str, Any]) -> str:
    """What a fired alert saw, in a few words, for the views: the lab's error rate, or Prometheus's value."""
    if event.get("source", "lab") == "prometheus":
        value = event.get("value")
        return "Prometheus" + (f", value {value:.3g}" if isinstance(value, (int, float)) else "")
    rate = event.get("error_rate")
    return f"error rate {rate:.0%}" if isinstance(rate, (int, float)) else "error rate unknown"


class AppDbError(EventBody):
    """A database error the built-in app logged, with its exact exception class and what it was doing."""

    kind: ClassVar[str] = "app.db_error"
    replica: MaybeText
    error_class: MaybeText
    message: MaybeText
    during: MaybeText = None
    app_ts: str | None = None


class AppPoolWarning(EventBody):
    kind: ClassVar[str] = "app.pool_warning"
    replica: str
    message: str | None


class AppError(EventBody):
    """A line of a team's app log matching the scenario's error pattern."""

    kind: ClassVar[str] = "app.error"
    replica: str
    message: str


class DockerContainer(EventBody):
    kind: ClassVar[str] = "docker.container"
    action: str
    service: str
    role: str
    health: str | None
    exit_code: str | None


class DockerHealth(DockerContainer):
    kind: ClassVar[str] = "docker.health"


class DockerExec(EventBody):
    """Someone's `docker exec` in a service of the stack (health checks are not news)."""

    kind: ClassVar[str] = "docker.exec"
    service: str
    command: str


class EngineLost(EventBody):
    kind: ClassVar[str] = "engine.lost"
    detail: str


class EngineWaiting(EventBody):
    kind: ClassVar[str] = "engine.waiting"
    timeout_s: float


class EngineReturned(EventBody):
    kind: ClassVar[str] = "engine.returned"
    waited_s: float


class EngineGone(EngineReturned):
    kind: ClassVar[str] = "engine.gone"


class WritesChecking(EventBody):
    kind: ClassVar[str] = "writes.checking"
    acknowledged: int


class WritesDbStarted(EventBody):
    kind: ClassVar[str] = "writes.db_started"
    service: str


class WritesVerified(EventBody):
    """Every acknowledged write looked up in the database: how many were found, which are missing, or why not."""

    kind: ClassVar[str] = "writes.verified"
    acknowledged: Count
    found: Count = 0
    missing: Annotated[list[Any], ARRAY] = dataclasses.field(default_factory=list)
    error: MaybeText = None
