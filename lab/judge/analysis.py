"""Pure functions over a recording: requests, windows, milestones, intervals and impact.

No Docker, no clock: everything here is computed from the list of events, so it is tested on synthetic
streams and re-run on any recording (including one cut short by a crash).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from lab.judge.lateness import Lateness, lateness_of
from lab.record.events import Event

STEADY_WARMUP_S = 2.0
"""The first seconds of traffic are left out of the steady state (connections and pools warming up)."""
RESTART_SETTLE_S = 1.0
"""After a restart serves again, its own brief disruption is over; what follows shows whether it helped. Measured on
the seed's database restart: the replicas the fault spared failed or were slow from the kill until the database
served again, and were back to their steady latency 0.5 s before the lab's probe said so."""
RECOVERY_MIN_REQUESTS = 5
IMPACTED_SECOND_BAD_SHARE = 0.05
"""A second of the fault window counts as impacting users when more than this share of the requests started in it
failed or were slower than the recovery rule allows."""

LB = "(lb)"
"""Requests no app replica answered (the load balancer did, or nothing did) are counted under this name."""
ERROR_TALLIES_KEPT = 30
"""Distinct errors kept per source (users, app); the rarer ones are counted together as OTHER_ERRORS."""
OTHER_ERRORS = "(other errors)"

NO_END_REASON = "the recording stops without run.ended: the lab process died"
OUTSIDE = "outside"
"""A fault that went while nothing of the scenario acted: removed from outside."""
STILL_AT_CLEANUP = "still in effect at cleanup"


@dataclass(frozen=True)
class RecoveryCriteria:
    """When the service counts as back: a full window whose requests fail at most `max_error_rate`, where a
    request that succeeded but took longer than `max_latency_s` counts as failed (a user still waiting)."""

    window_s: float = 3.0
    max_error_rate: float = 0.01
    max_latency_s: float = 1.0


@dataclass(frozen=True)
class Request:
    t: float
    """The planned start: latency runs from here (see lab.record.loadgen)."""
    latency_s: float
    ok: bool
    replica: str | None
    status: int | None
    error: str | None
    endpoint: str
    started_t: float | None = None
    """When it really started; None in recordings older than planned starts (taken as on time)."""

    @classmethod
    def from_event(cls, event: Event) -> Request:
        return cls(t=event["t"], latency_s=event["latency_s"], ok=bool(event["ok"]), replica=event.get("replica"),
                   status=event.get("status"), error=event.get("error"), endpoint=event.get("endpoint", ""),
                   started_t=event.get("started_t"))

    @property
    def lateness_s(self) -> float:
        return 0.0 if self.started_t is None else self.started_t - self.t

    @property
    def done_t(self) -> float:
        return self.t + self.latency_s


@dataclass(frozen=True)
class Stats:
    requests: int
    errors: int
    error_rate: float
    p50_s: float | None
    p95_s: float | None
    failure_p50_s: float | None = None
    slow: int = 0
    """Answered, but slower than the recovery rule's max latency (Analysis.slow_s): by that rule a user still
    waiting, so failed where the steady state is judged (lab.judge.checks); not in `errors`."""


@dataclass(frozen=True)
class WindowImpact:
    start: float
    end: float
    overall: Stats
    per_replica: dict[str, Stats] = field(default_factory=dict)


@dataclass(frozen=True)
class FaultWindow:
    """When one fault was in effect: from its apply step to its revert (or, without one, the recording's end)."""

    fault: str
    kind: str
    target: str
    start: float
    end: float
    ended_by: str
    """"revert step N" (the timeline reverted it), "runbook step N" / "restart step N" (a responder's step removed
    it), "outside", "still in effect at cleanup", or "end of the recording"."""
    impact: WindowImpact


@dataclass(frozen=True)
class ErrorTally:
    """One distinct error of the fault windows and how often it came: what users got (`users`: the error of a
    failed request, or its HTTP status), or what an app logged (`app`: a database error, with what it was doing)."""

    source: str
    text: str
    count: int
    during: str | None = None


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
    after_restart: WindowImpact | None
    after_recovery: WindowImpact | None
    steps: list[dict[str, Any]]
    skew: SkewStats
    traffic: dict[str, Any]
    writes: dict[str, Any] | None
    first_db_errors: list[dict[str, Any]]
    lateness: Lateness = field(default_factory=lambda: lateness_of(()))
    """How late the load generator started requests after their planned start (every request recorded)."""
    fault_errors: list[ErrorTally] = field(default_factory=list)
    """The distinct errors of the fault windows, the most frequent first (see ErrorTally)."""
    generator_failure: str | None = None
    """Why the load generator stopped sending before the run's end, if it did (lab.record.recorder)."""
    slow_s: float = RecoveryCriteria.max_latency_s
    """An answer slower than this (the recovery rule's max latency) is counted in its window's `slow`."""

    def milestone(self, name: str) -> Milestone | None:
        return next((m for m in self.milestones if m.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def requests_from(events: list[Event]) -> list[Request]:
    return sorted((Request.from_event(e) for e in events if e.get("kind") == "request"), key=lambda r: r.t)


def stats(requests: list[Request], criteria: RecoveryCriteria) -> Stats:
    errors = [r for r in requests if not r.ok]
    return Stats(
        requests=len(requests),
        errors=len(errors),
        error_rate=round(len(errors) / len(requests), 4) if requests else 0.0,
        p50_s=_round(percentile((r.latency_s for r in requests), 50)),
        p95_s=_round(percentile((r.latency_s for r in requests), 95)),
        failure_p50_s=_round(percentile((r.latency_s for r in errors), 50)),
        slow=sum(1 for r in requests if r.ok and not _good(r, criteria)),
    )


def window_impact(requests: list[Request], start: float, end: float, criteria: RecoveryCriteria,
                  spans: list[tuple[float, float]] | None = None) -> WindowImpact:
    """Requests started in [start, end) (or in any of `spans` within it): overall and per serving replica (None:
    the LB itself answered)."""
    inside = [r for r in requests if start <= r.t < end and (spans is None or any(a <= r.t < b for a, b in spans))]
    replicas = sorted({r.replica or LB for r in inside})
    per_replica = {name: stats([r for r in inside if (r.replica or LB) == name], criteria) for name in replicas}
    return WindowImpact(start=round(start, 3), end=round(end, 3), overall=stats(inside, criteria),
                        per_replica=per_replica)


def find_recovery(requests: list[Request], after: float, criteria: RecoveryCriteria) -> float | None:
    """Start of the first full window after `after` in which users are back to steady state."""
    window_s, max_error_rate = criteria.window_s, criteria.max_error_rate
    candidates = [r for r in requests if r.t >= after]
    if not candidates:
        return None
    last_start = candidates[-1].t
    end_index = 0
    errors_in_window = 0
    for begin_index, first in enumerate(candidates):
        window_end = first.t + window_s
        if window_end > last_start:
            return None  # no complete window left in the recording
        while end_index < len(candidates) and candidates[end_index].t < window_end:
            errors_in_window += 0 if _good(candidates[end_index], criteria) else 1
            end_index += 1
        count = end_index - begin_index
        if count >= RECOVERY_MIN_REQUESTS and errors_in_window / count <= max_error_rate:
            return first.t
        errors_in_window -= 0 if _good(first, criteria) else 1
    return None


def _good(request: Request, criteria: RecoveryCriteria) -> bool:
    return request.ok and request.latency_s <= criteria.max_latency_s


GENERATOR_SOURCE = "users"
"""The `source` of a recorder.warning that says the load generator failed (lab.record.recorder)."""


def analyse(events: list[Event], recovery: RecoveryCriteria | None = None) -> Analysis:
    recovery = recovery or RecoveryCriteria()
    requests = requests_from(events)
    steps = sorted((e for e in events if e.get("kind") == "step"), key=lambda e: e["t"])
    ended = next((e for e in events if e.get("kind") == "run.ended"), None)
    partial = ended is None or bool(ended.get("partial"))
    ended_reason = str(ended.get("reason", "")) if ended else NO_END_REASON
    end_t = max((e["t"] for e in events), default=0.0)
    milestones: list[Milestone] = []

    def add(name: str, event_or_t: Event | float, clock: str = "", detail: str = "") -> Milestone:
        if isinstance(event_or_t, dict):
            milestone = Milestone(name, round(event_or_t["t"], 3), event_or_t["wall"], clock, detail)
        else:
            milestone = Milestone(name, round(event_or_t, 3), _wall_at(events, event_or_t), clock, detail)
        milestones.append(milestone)
        return milestone

    traffic_start = requests[0].t if requests else 0.0
    add("traffic started", traffic_start)
    fault_step = next((s for s in steps if s["action"] == "apply" and s.get("ok")), None)
    fault_t = fault_step["t"] if fault_step else None
    if fault_step:
        add("fault injected", fault_step, fault_step.get("clock", ""), fault_step.get("text", ""))
    impact_start = next((r for r in requests if fault_t is not None and r.t >= fault_t and not r.ok), None)
    if impact_start:
        first_error = impact_start.error or impact_start.status
        add("impact started", impact_start.t, detail=f"first failed request: {first_error}")
    alert = next((e for e in events if e.get("kind") == "alert.fired" and fault_t is not None and e["t"] >= fault_t),
                 None)
    if alert:
        add("alert fired", alert, detail=f"{alert.get('alert')}: error rate {alert.get('error_rate')}")
    for step in steps:
        if step is fault_step:
            continue
        name = step.get("milestone") or (f"fault {step['fault']} injected" if step["action"] == "apply" else
                                         f"{step['action']}{' ' + step['service'] if step.get('service') else ''}")
        add(name, step, step.get("clock", ""), step.get("text", ""))
    mitigation = next((s for s in steps if s.get("milestone") == "mitigation"), None)
    recovery_t = find_recovery(requests, mitigation["t"], recovery) if mitigation else None
    if recovery_t is not None:
        add("recovered", recovery_t, detail=f"error rate <= {recovery.max_error_rate:.0%} over {recovery.window_s:g} s"
                                            f" (a request slower than {recovery.max_latency_s:g} s counts as failed)")
    add("end", end_t, detail=f"recording partial: {ended_reason}" if partial else "")
    milestones.sort(key=lambda m: m.t)

    by_name = {m.name: m for m in milestones}
    intervals = [
        Interval(name, start, end, round(by_name[end].t - by_name[start].t, 3))
        for name, start, end in (
            ("detect", "fault injected", "alert fired"),
            ("identify", "fault injected", "identified"),
            ("mitigate", "alert fired", "mitigation"),
            ("recover", "mitigation", "recovered"),
            ("user impact", "impact started", "recovered"),
        )
        if start in by_name and end in by_name
    ]

    restart = next((s for s in steps if s["action"] == "restart" and fault_t is not None and s["t"] > fault_t), None)
    windows = fault_windows(events, steps, requests, end_t, recovery)
    spans = merged([(w.start, w.end) for w in windows])
    fault_end = mitigation["t"] if mitigation else (spans[-1][1] if spans else end_t)
    fault = window_impact(requests, spans[0][0], spans[-1][1], recovery, spans) if spans else None
    after_restart = None
    if restart:
        # A request that started less than a failure's duration before the fix was still waiting when the fix
        # landed, and the fix may have saved it: it cannot tell whether the restart helped (at --speed 10 those
        # were most of the window, and the check failed for it).
        undecided_s = (fault.overall.failure_p50_s or 0.0) if fault else 0.0
        settled = restart["t"] + restart["took_s"] + RESTART_SETTLE_S
        after_restart = window_impact(requests, settled, max(settled, fault_end - undecided_s), recovery)
    impacted_s = impacted_seconds(requests, spans, recovery) if spans else None
    fault_s = sum(end - start for start, end in spans)
    return Analysis(
        partial=partial,
        ended_reason=ended_reason,
        milestones=milestones,
        intervals=intervals,
        steady=(window_impact([r for r in requests if r.done_t < fault_t or r.t + recovery.max_latency_s < fault_t],
                              traffic_start + STEADY_WARMUP_S, fault_t, recovery) if fault_t is not None else None),
        fault=fault,
        faults=windows,
        impacted_s=impacted_s,
        impact_share=round(impacted_s / fault_s, 4) if impacted_s is not None and fault_s > 0 else None,
        after_restart=after_restart,
        after_recovery=window_impact(requests, recovery_t, end_t, recovery) if recovery_t is not None else None,
        steps=[_step_summary(s) for s in steps],
        skew=skew_stats(steps),
        traffic=_traffic(events, requests),
        writes=next(({k: v for k, v in e.items() if k not in ("kind", "wall")}
                     for e in events if e.get("kind") == "writes.verified"), None),
        first_db_errors=[{"t": e["t"], "replica": e.get("replica"), "error_class": e.get("error_class"),
                          "message": e.get("message")} for e in events if e.get("kind") == "app.db_error"][:5],
        lateness=lateness_of([r.lateness_s for r in requests]),
        fault_errors=error_tallies(events, requests, spans),
        generator_failure=next((str(e.get("message")) for e in events
                                if e.get("kind") == "recorder.warning" and e.get("source") == GENERATOR_SOURCE), None),
        slow_s=recovery.max_latency_s,
    )


def error_tallies(events: list[Event], requests: list[Request], spans: list[tuple[float, float]]) -> \
        list[ErrorTally]:
    """The distinct errors users got and the apps logged while a fault was in effect, the most frequent first."""

    def inside(t: float) -> bool:
        return any(start <= t < end for start, end in spans)

    counts: dict[tuple[str, str, str | None], int] = {}
    for request in requests:
        if not request.ok and inside(request.t):
            key = ("users", request.error or f"HTTP {request.status}", None)
            counts[key] = counts.get(key, 0) + 1
    for entry in events:
        if entry.get("kind") == "app.db_error" and inside(entry["t"]):
            key = ("app", f"{entry.get('error_class')}: {entry.get('message')}", entry.get("during"))
            counts[key] = counts.get(key, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: (item[0][0] != "users", -item[1], item[0][1]))
    tallies = []
    for source in ("users", "app"):
        mine = [ErrorTally(src, text, count, during) for (src, text, during), count in ordered if src == source]
        rest = sum(tally.count for tally in mine[ERROR_TALLIES_KEPT:])
        tallies += mine[:ERROR_TALLIES_KEPT] + ([ErrorTally(source, OTHER_ERRORS, rest)] if rest else [])
    return tallies


def fault_windows(events: list[Event], steps: list[Event], requests: list[Request], end_t: float,
                  criteria: RecoveryCriteria) -> list[FaultWindow]:
    """Each applied fault's window: from its apply step to the first of its revert step, the moment the lab saw it
    gone (`fault.lost`: after a responder's step, or removed from outside), its cleanup at the end of the run (still
    in effect), or the end of the recording."""
    windows = []
    for apply in (s for s in steps if s["action"] == "apply" and s.get("ok") and s.get("fault")):
        fault_id, start = apply["fault"], apply["t"]

        def about(kind: str, fault: str = fault_id, since: float = start) -> list[Event]:
            return [e for e in events if e.get("kind") == kind and e.get("fault") == fault and e["t"] >= since]

        ends = [(end_t, "end of the recording")]
        ends += [(s["t"], f"revert step {s['index']}") for s in steps
                 if s["action"] == "revert" and s.get("fault") == fault_id and s["t"] >= start]
        ends += [(e["t"], str(e.get("by", OUTSIDE))) for e in about("fault.lost")]
        ends += [(e["t"], STILL_AT_CLEANUP) for e in about("fault.cleanup") if e.get("still_in_effect")]
        end, ended_by = min(ends)
        applied = next(iter(about("fault.applied", since=0.0)), {})
        windows.append(FaultWindow(fault=fault_id, kind=str(applied.get("fault_kind", "")),
                                   target=str(applied.get("target", "")), start=round(start, 3), end=round(end, 3),
                                   ended_by=ended_by, impact=window_impact(requests, start, end, criteria)))
    return windows


def impacted_seconds(requests: list[Request], spans: list[tuple[float, float]], criteria: RecoveryCriteria) -> float:
    """How many whole seconds of the spans had users affected (more than a few bad requests started in them)."""
    buckets: dict[tuple[int, int], list[int]] = {}  # (span, second) -> [requests, bad]
    for request in requests:
        for number, (start, end) in enumerate(spans):
            if start <= request.t < end:
                counts = buckets.setdefault((number, int(request.t - start)), [0, 0])
                counts[0] += 1
                counts[1] += 0 if _good(request, criteria) else 1
                break
    return float(sum(1 for total, bad in buckets.values() if bad / total > IMPACTED_SECOND_BAD_SHARE))


def merged(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping or touching spans joined, in order."""
    joined: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if joined and start <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    return joined


def skew_stats(steps: list[Event]) -> SkewStats:
    skews = [abs(s["skew_s"]) for s in steps]
    return SkewStats(steps=len(skews), median_s=_round(percentile(skews, 50)), p99_s=_round(percentile(skews, 99)),
                     max_s=_round(max(skews, default=None)))


def _step_summary(step: Event) -> dict[str, Any]:
    keys = ("index", "action", "clock", "planned_t", "t", "skew_s", "took_s", "ok", "detail", "milestone")
    return {key: step.get(key) for key in keys}


def _traffic(events: list[Event], requests: list[Request]) -> dict[str, Any]:
    started = next((e for e in events if e.get("kind") == "run.started"), {})
    ended = next((e for e in events if e.get("kind") == "run.ended"), {})
    return {"rate": started.get("rate"), "sent": ended.get("requests_sent"), "recorded": len(requests)}


def _wall_at(events: list[Event], t: float) -> str:
    """Wall time of offset t, from the nearest recorded event (all share one clock)."""
    from datetime import datetime, timedelta

    nearest = min(events, key=lambda e: abs(e["t"] - t), default=None)
    if nearest is None:
        return ""
    return (datetime.fromisoformat(nearest["wall"]) + timedelta(seconds=t - nearest["t"])).isoformat(
        timespec="milliseconds")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
