"""Windows of a recording: the requests started in a span of time and their figures, overall and per replica; when
each fault was in effect and what ended it; the part of it its impact is judged on; how many seconds had users
affected; the distinct errors of the fault windows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lab.judge.requests import RecoveryCriteria, Request, Stats, percentile, stats
from lab.record.events import Event

LB = "(lb)"
"""Requests no app replica answered (the load balancer did, or nothing did) are counted under this name."""
IMPACTED_SECOND_BAD_SHARE = 0.05
"""A second of the fault window counts as impacting users when more than this share of the requests started in it
failed or were slower than the recovery rule allows."""
ERROR_TALLIES_KEPT = 30
"""Distinct errors kept per source (users, app); the rarer ones are counted together as OTHER_ERRORS."""
OTHER_ERRORS = "(other errors)"
OUTSIDE = "outside"
"""A fault that went while nothing of the scenario acted: removed from outside."""
STILL_AT_CLEANUP = "still in effect at cleanup"


@dataclass(frozen=True)
class WindowImpact:
    start: float
    end: float
    overall: Stats
    per_replica: dict[str, Stats] = field(default_factory=dict)


@dataclass(frozen=True)
class FaultWindow:
    """When one fault was in effect: from its apply step (or the deploy that put it in place) to its revert (or,
    without one, what removed it, or the recording's end)."""

    fault: str
    kind: str
    target: str
    start: float
    end: float
    ended_by: str
    """"revert step N" (the timeline reverted it), "runbook step N" / "restart step N" / "deploy step N" (a
    responder's step removed it, or the deploy that put it in place rolled it back), "outside", "still in effect at
    cleanup", or "end of the recording"."""
    impact: WindowImpact
    settle_s: float = 0.0
    """How long after its apply the fault had reached every request (lab.scenario.settling)."""
    settled: WindowImpact | None = None
    """Its impact as judged: from its settle time to the end of its judged span (judged_span)."""


@dataclass(frozen=True)
class SettledImpact:
    """The fault windows as their impact is judged, whatever the speed: each from the moment its fault had reached
    every request (its settle time after the apply) to a typical failure's time before its end (see judged_span)."""

    spans: list[tuple[float, float]]
    impact: WindowImpact
    impacted_s: float
    """Seconds of the spans in which users were affected (see IMPACTED_SECOND_BAD_SHARE), of those with a judged
    request."""
    judged_s: float
    """Seconds of the spans with a judged request."""

    @property
    def share(self) -> float | None:
        return round(self.impacted_s / self.judged_s, 4) if self.judged_s > 0 else None


@dataclass(frozen=True)
class ErrorTally:
    """One distinct error of the fault windows and how often it came: what users got (`users`: the error of a
    failed request, or its HTTP status), or what an app logged (`app`: a database error, with what it was doing)."""

    source: str
    text: str
    count: int
    during: str | None = None


def window_impact(requests: list[Request], start: float, end: float, criteria: RecoveryCriteria,
                  spans: list[tuple[float, float]] | None = None) -> WindowImpact:
    """Requests started in [start, end) (or in any of `spans` within it): overall and per serving replica (None:
    the LB itself answered)."""
    inside = [r for r in requests if start <= r.t < end and (spans is None or any(a <= r.t < b for a, b in spans))]
    replicas = sorted({r.replica or LB for r in inside})
    per_replica = {name: stats([r for r in inside if (r.replica or LB) == name], criteria) for name in replicas}
    return WindowImpact(start=round(start, 3), end=round(end, 3), overall=stats(inside, criteria),
                        per_replica=per_replica)


def judged_span(requests: list[Request], start: float, end: float, criteria: RecoveryCriteria) -> tuple[float, float]:
    """The part of [start, end) a fault's impact is judged on: up to the median time its failed or too slow requests
    took before the end. A request started later would, failing as they did, still be waiting when the fault went,
    its outcome the fix's to decide; left out whatever its outcome, so that the quick answers of the replicas the
    fault spared do not outweigh those the fix saved."""
    bad = [r.latency_s for r in requests if start <= r.t < end and not criteria.good(r)]
    return start, end - (percentile(bad, 50) or 0.0)


def fault_starts(events: list[Event], steps: list[Event]) -> list[Event]:
    """What began each fault, in time order: its apply step (that succeeded), or the `fault.applied` of a deploy
    that rolled its service onto its release (`by`), timed from that service's replacement."""
    applied = [s for s in steps if s["action"] == "apply" and s.get("ok") and s.get("fault")]
    applied += [e for e in events if e.get("kind") == "fault.applied" and e.get("by")]
    return sorted(applied, key=lambda e: e["t"])


def fault_windows(events: list[Event], steps: list[Event], requests: list[Request], end_t: float,
                  criteria: RecoveryCriteria, settle_s: Mapping[str, float] | None = None) -> list[FaultWindow]:
    """Each applied fault's window: from what began it (fault_starts) to the first of its revert step, the moment
    the lab saw it gone (`fault.lost`: after a responder's step, or removed from outside), its cleanup at the end of
    the run (still in effect), or the end of the recording. `settle_s`: each fault's settle time (default 0)."""
    windows = []
    for began in fault_starts(events, steps):
        fault_id, start = began["fault"], began["t"]

        def about(kind: str, fault: str = fault_id, since: float = start) -> list[Event]:
            return [e for e in events if e.get("kind") == kind and e.get("fault") == fault and e["t"] >= since]

        ends = [(end_t, "end of the recording")]
        ends += [(s["t"], f"revert step {s['index']}") for s in steps
                 if s["action"] == "revert" and s.get("fault") == fault_id and s["t"] >= start]
        ends += [(e["t"], str(e.get("by", OUTSIDE))) for e in about("fault.lost")]
        ends += [(e["t"], STILL_AT_CLEANUP) for e in about("fault.cleanup") if e.get("still_in_effect")]
        end, ended_by = min(ends)
        applied = next(iter(about("fault.applied", since=0.0)), {})
        settle = (settle_s or {}).get(fault_id, 0.0)
        judged_start, judged_end = judged_span(requests, start + settle, end, criteria)
        windows.append(FaultWindow(fault=fault_id, kind=str(applied.get("fault_kind", "")),
                                   target=str(applied.get("target", "")), start=round(start, 3), end=round(end, 3),
                                   ended_by=ended_by, impact=window_impact(requests, start, end, criteria),
                                   settle_s=settle,
                                   settled=window_impact(requests, judged_start, judged_end, criteria)))
    return windows


def settled_impact(requests: list[Request], windows: list[FaultWindow], criteria: RecoveryCriteria) -> SettledImpact:
    """The impact of the fault windows together, judged on their settled spans (see SettledImpact)."""
    spans = [judged_span(requests, start, end, criteria)
             for start, end in merged([(w.start + w.settle_s, w.end) for w in windows])]
    spans = [(start, end) for start, end in spans if start < end]
    impact = (window_impact(requests, spans[0][0], spans[-1][1], criteria, spans) if spans
              else window_impact([], 0.0, 0.0, criteria))
    impacted_s, judged_s = _affected_seconds(requests, spans, criteria)
    return SettledImpact(spans=spans, impact=impact, impacted_s=impacted_s, judged_s=judged_s)


def impacted_seconds(requests: list[Request], spans: list[tuple[float, float]], criteria: RecoveryCriteria) -> float:
    """How many whole seconds of the spans had users affected (more than a few bad requests started in them)."""
    return _affected_seconds(requests, spans, criteria)[0]


def _affected_seconds(requests: list[Request], spans: list[tuple[float, float]],
                      criteria: RecoveryCriteria) -> tuple[float, float]:
    """(seconds of the spans with users affected, seconds of the spans in which a request started)."""
    buckets: dict[tuple[int, int], list[int]] = {}  # (span, second) -> [requests, bad]
    for request in requests:
        for number, (start, end) in enumerate(spans):
            if start <= request.t < end:
                counts = buckets.setdefault((number, int(request.t - start)), [0, 0])
                counts[0] += 1
                counts[1] += 0 if criteria.good(request) else 1
                break
    affected = sum(1 for total, bad in buckets.values() if bad / total > IMPACTED_SECOND_BAD_SHARE)
    return float(affected), float(len(buckets))


def merged(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping or touching spans joined, in order."""
    joined: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if joined and start <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    return joined


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
