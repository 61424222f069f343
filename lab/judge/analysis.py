"""The analysis of a recording: its milestones and intervals, the steady state, the fault windows and what users saw
in them, the window after a restart and after the recovery, the steps' skew and the load generator's lateness.

No Docker, no clock: everything here is computed from the list of events, so it is tested on synthetic streams and
re-run on any recording (including one cut short by a crash)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lab.judge.alerts import AlertSpan, alert_spans
from lab.judge.amplification import Amplification, amplification_of
from lab.judge.lateness import Lateness, lateness_of
from lab.judge.requests import RecoveryCriteria, Request, find_recovery, percentile, requests_from, rounded
from lab.judge.windows import (
    ErrorTally,
    FaultWindow,
    SettledImpact,
    WindowImpact,
    error_tallies,
    fault_starts,
    fault_windows,
    impacted_seconds,
    merged,
    settled_impact,
    window_impact,
)
from lab.record.events import Event
from lab.record.schema import GENERATOR_SOURCE, alert_saw

STEADY_WARMUP_S = 2.0
"""The first seconds of traffic are left out of the steady state (connections and pools warming up)."""
RESTART_SETTLE_S = 1.0
"""After a restart serves again, its own brief disruption is over; what follows shows whether it helped. The replicas
a fault spares fail or are slow while the database restarts, and are back to their steady latency within half a
second of the lab's probe saying it serves."""
NO_END_REASON = "the recording stops without run.ended: the lab process died"
INTERVALS = (("detect", "fault injected", "alert fired"), ("identify", "fault injected", "identified"),
             ("mitigate", "alert fired", "mitigation"), ("recover", "mitigation", "recovered"),
             ("user impact", "impact started", "recovered"))


@dataclass(frozen=True)
class Milestone:
    name: str
    t: float
    wall: str
    clock: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Interval:
    name: str
    start: str
    end: str
    seconds: float


@dataclass(frozen=True)
class SkewStats:
    steps: int
    median_s: float | None
    p99_s: float | None
    max_s: float | None


@dataclass(frozen=True)
class Analysis:
    partial: bool
    ended_reason: str
    """Why the recording ends: "completed", "interrupted", "aborted: <why>", or that the lab process died."""
    milestones: list[Milestone]
    intervals: list[Interval]
    steady: WindowImpact | None
    """Requests started after the warm-up (STEADY_WARMUP_S) and decided before the fault was injected: ended by
    then, or already waiting longer than `slow_s` (not served, whatever came after). One that was still waiting
    within `slow_s` when the fault landed may fail by the fault's doing (at 1,000 req/s, tens of them queued behind
    a stall of a replica's), so it cannot say whether the service was steady."""
    fault: WindowImpact | None
    """Requests started while any fault was in effect (the union of the fault windows)."""
    faults: list[FaultWindow]
    impacted_s: float | None
    """Seconds of the fault windows during which users were affected (see IMPACTED_SECOND_BAD_SHARE)."""
    impact_share: float | None
    """impacted_s over the length of the fault windows: 1.0 is users affected the whole time."""
    settled: SettledImpact | None
    """The fault windows as their impact is judged: once each fault had reached every request, the requests it
    decided (see SettledImpact)."""
    after_restart: WindowImpact | None
    after_recovery: WindowImpact | None
    steps: list[dict[str, Any]]
    skew: SkewStats
    traffic: dict[str, Any]
    writes: dict[str, Any] | None
    first_db_errors: list[dict[str, Any]]
    lateness: Lateness = field(default_factory=lambda: lateness_of(()))
    """How late the load generator started requests after their planned start: the schedule's first attempts (a
    retry is planned by the client's backoff, not by the schedule the generator must keep)."""
    amplification: Amplification = field(default_factory=lambda: amplification_of((), None, ()))
    """Operations and attempts: the load retries offered against the users' planned load, and what operations
    finally got (lab.judge.amplification)."""
    fault_errors: list[ErrorTally] = field(default_factory=list)
    """The distinct errors of the fault windows, the most frequent first (see ErrorTally)."""
    generator_failure: str | None = None
    """Why the load generator stopped sending before the run's end, if it did (lab.record.recorder)."""
    slow_s: float = RecoveryCriteria.max_latency_s
    """An answer slower than this (the recovery rule's max latency) is counted in its window's `slow`."""
    alerts: list[AlertSpan] = field(default_factory=list)
    """Every alert's firings, the lab's own and Prometheus's (lab.judge.alerts)."""
    fault_t: float | None = None
    """When the first fault was applied (the `fault injected` milestone): what detection is timed from."""

    def milestone(self, name: str) -> Milestone | None:
        return next((m for m in self.milestones if m.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Recording:
    """What the analysis reads of the events, sorted once."""

    events: list[Event]
    requests: list[Request]
    steps: list[Event]
    end_t: float
    fault_step: Event | None
    """What began the first fault: its apply step, or a deploy's fault.applied (lab.judge.windows.fault_starts)."""

    @classmethod
    def of(cls, events: list[Event]) -> _Recording:
        steps = sorted((e for e in events if e.get("kind") == "step"), key=lambda e: e["t"])
        return cls(events, requests_from(events), steps, max((e["t"] for e in events), default=0.0),
                   next(iter(fault_starts(events, steps)), None))

    @property
    def fault_t(self) -> float | None:
        return self.fault_step["t"] if self.fault_step else None

    @property
    def mitigation(self) -> Event | None:
        return next((s for s in self.steps if s.get("milestone") == "mitigation"), None)

    def wall_at(self, t: float) -> str:
        """Wall time of offset t, from the nearest recorded event (all share one clock)."""
        nearest = min(self.events, key=lambda e: abs(e["t"] - t), default=None)
        if nearest is None:
            return ""
        return (datetime.fromisoformat(nearest["wall"]) + timedelta(seconds=t - nearest["t"])).isoformat(
            timespec="milliseconds")


def analyse(events: list[Event], recovery: RecoveryCriteria | None = None,
            settle_s: Mapping[str, float] | None = None) -> Analysis:
    """`settle_s`: how long after its apply each fault had reached every request (lab.scenario.settling; default
    at once)."""
    recovery = recovery or RecoveryCriteria()
    recording = _Recording.of(events)
    requests, fault_t = recording.requests, recording.fault_t
    ended = next((e for e in events if e.get("kind") == "run.ended"), None)
    partial = ended is None or bool(ended.get("partial"))
    ended_reason = str(ended.get("reason", "")) if ended else NO_END_REASON
    mitigation = recording.mitigation
    recovery_t = find_recovery(requests, mitigation["t"], recovery) if mitigation else None
    milestones = _milestones(recording, recovery, recovery_t, f"recording partial: {ended_reason}" if partial else "")
    windows = fault_windows(events, recording.steps, requests, recording.end_t, recovery, settle_s)
    spans = merged([(w.start, w.end) for w in windows])
    fault = window_impact(requests, spans[0][0], spans[-1][1], recovery, spans) if spans else None
    impacted_s = impacted_seconds(requests, spans, recovery) if spans else None
    fault_s = sum(end - start for start, end in spans)
    traffic_start = requests[0].t if requests else 0.0
    return Analysis(
        partial=partial,
        ended_reason=ended_reason,
        milestones=milestones,
        intervals=_intervals(milestones),
        steady=(window_impact([r for r in requests if r.done_t < fault_t or r.t + recovery.max_latency_s < fault_t],
                              traffic_start + STEADY_WARMUP_S, fault_t, recovery) if fault_t is not None else None),
        fault=fault,
        faults=windows,
        impacted_s=impacted_s,
        impact_share=round(impacted_s / fault_s, 4) if impacted_s is not None and fault_s > 0 else None,
        settled=settled_impact(requests, windows, recovery) if windows else None,
        after_restart=_after_restart(recording, fault, spans, recovery),
        after_recovery=(window_impact(requests, recovery_t, recording.end_t, recovery) if recovery_t is not None
                        else None),
        steps=[_step_summary(s) for s in recording.steps],
        skew=skew_stats(recording.steps),
        traffic=_traffic(events, requests),
        writes=next(({k: v for k, v in e.items() if k not in ("kind", "wall")}
                     for e in events if e.get("kind") == "writes.verified"), None),
        first_db_errors=[{"t": e["t"], "replica": e.get("replica"), "error_class": e.get("error_class"),
                          "message": e.get("message")} for e in events if e.get("kind") == "app.db_error"][:5],
        lateness=lateness_of([r.lateness_s for r in requests if r.attempt == 1]),
        amplification=amplification_of(requests, fault_t, spans),
        fault_errors=error_tallies(events, requests, spans),
        generator_failure=next((str(e.get("message")) for e in events
                                if e.get("kind") == "recorder.warning" and e.get("source") == GENERATOR_SOURCE), None),
        slow_s=recovery.max_latency_s,
        alerts=alert_spans(events),
        fault_t=fault_t,
    )


def _milestones(recording: _Recording, recovery: RecoveryCriteria, recovery_t: float | None,
                end_detail: str) -> list[Milestone]:
    """The recording's milestones in time order: traffic, the fault, the first failure, the alert, every step, the
    recovery, the end."""
    milestones: list[Milestone] = []

    def add(name: str, event_or_t: Event | float, clock: str = "", detail: str = "") -> None:
        if isinstance(event_or_t, dict):
            milestones.append(Milestone(name, round(event_or_t["t"], 3), event_or_t["wall"], clock, detail))
        else:
            milestones.append(Milestone(name, round(event_or_t, 3), recording.wall_at(event_or_t), clock, detail))

    requests, fault_step, fault_t = recording.requests, recording.fault_step, recording.fault_t
    add("traffic started", requests[0].t if requests else 0.0)
    if fault_step:
        # A deploy's fault.applied has no text of its own: what it did says it.
        text = str(fault_step.get("text", fault_step.get("detail", "")))
        add("fault injected", fault_step, fault_step.get("clock", ""), text)
    impact_start = next((r for r in requests if fault_t is not None and r.t >= fault_t and not r.ok), None)
    if impact_start:
        first_error = impact_start.error or impact_start.status
        add("impact started", impact_start.t, detail=f"first failed request: {first_error}")
    alert = next((e for e in recording.events if e.get("kind") == "alert.fired" and fault_t is not None
                  and e["t"] >= fault_t), None)
    if alert:
        add("alert fired", alert, detail=f"{alert.get('alert')}: {alert_saw(alert)}")
    for step in recording.steps:
        if step is not fault_step:
            add(_step_name(step), step, step.get("clock", ""), step.get("text", ""))
    if recovery_t is not None:
        add("recovered", recovery_t, detail=f"error rate <= {recovery.max_error_rate:.0%} over {recovery.window_s:g} s"
                                            f" (a request slower than {recovery.max_latency_s:g} s counts as failed)")
    add("end", recording.end_t, detail=end_detail)
    return sorted(milestones, key=lambda m: m.t)


def _step_name(step: Event) -> str:
    if step.get("milestone"):
        return str(step["milestone"])
    if step["action"] == "apply":
        return f"fault {step['fault']} injected"
    return f"{step['action']}{' ' + step['service'] if step.get('service') else ''}"


def _intervals(milestones: list[Milestone]) -> list[Interval]:
    by_name = {m.name: m for m in milestones}
    return [Interval(name, start, end, round(by_name[end].t - by_name[start].t, 3))
            for name, start, end in INTERVALS if start in by_name and end in by_name]


def _after_restart(recording: _Recording, fault: WindowImpact | None, spans: list[tuple[float, float]],
                   recovery: RecoveryCriteria) -> WindowImpact | None:
    """The requests decided between a restart during the fault (once it settled) and the fix."""
    fault_t = recording.fault_t
    restart = next((s for s in recording.steps if s["action"] == "restart" and fault_t is not None
                    and s["t"] > fault_t), None)
    if restart is None:
        return None
    mitigation = recording.mitigation
    fault_end = mitigation["t"] if mitigation else (spans[-1][1] if spans else recording.end_t)
    # A request that started less than a failure's duration before the fix was still waiting when the fix landed,
    # and the fix may have saved it: it cannot tell whether the restart helped.
    undecided_s = (fault.overall.failure_p50_s or 0.0) if fault else 0.0
    settled = restart["t"] + restart["took_s"] + RESTART_SETTLE_S
    return window_impact(recording.requests, settled, max(settled, fault_end - undecided_s), recovery)


def skew_stats(steps: list[Event]) -> SkewStats:
    skews = [abs(s["skew_s"]) for s in steps]
    return SkewStats(steps=len(skews), median_s=rounded(percentile(skews, 50)), p99_s=rounded(percentile(skews, 99)),
                     max_s=rounded(max(skews, default=None)))


def _step_summary(step: Event) -> dict[str, Any]:
    keys = ("index", "action", "clock", "planned_t", "t", "skew_s", "took_s", "ok", "detail", "milestone")
    return {key: step.get(key) for key in keys}


def _traffic(events: list[Event], requests: list[Request]) -> dict[str, Any]:
    started = next((e for e in events if e.get("kind") == "run.started"), {})
    ended = next((e for e in events if e.get("kind") == "run.ended"), {})
    return {"rate": started.get("rate"), "sent": ended.get("requests_sent"), "recorded": len(requests)}
