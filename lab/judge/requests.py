"""The requests of a recording as the judging reads them, their figures (error rate, percentiles, answers too slow)
and the recovery rule: when users count as back to steady state.

A request is one attempt: with a retry policy, each retry is a request of its own, and the figures here (error
rates, latencies, the recovery) count attempts, as the service and the alert rules see them; without one, an
operation is one request and the two are the same. What operations finally got is lab.judge.amplification's."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from lab.record.events import Event

RECOVERY_MIN_REQUESTS = 5


@dataclass(frozen=True)
class RecoveryCriteria:
    """When the service counts as back: a full window whose requests fail at most `max_error_rate`, where a
    request that succeeded but took longer than `max_latency_s` counts as failed (a user still waiting)."""

    window_s: float = 3.0
    max_error_rate: float = 0.01
    max_latency_s: float = 1.0

    def good(self, request: Request) -> bool:
        """Served, and in time."""
        return request.ok and request.latency_s <= self.max_latency_s


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
    seq: int = 0
    attempt: int = 1
    """Its try's number in its operation (2 on: a retry)."""
    first_t: float | None = None
    """A retry's: its operation's first attempt's planned start."""
    not_retried: str | None = None
    """Why a retryable failure had no retry (lab.record.retries)."""

    @classmethod
    def from_event(cls, event: Event) -> Request:
        return cls(t=event["t"], latency_s=event["latency_s"], ok=bool(event["ok"]), replica=event.get("replica"),
                   status=event.get("status"), error=event.get("error"), endpoint=event.get("endpoint", ""),
                   started_t=event.get("started_t"), seq=event.get("seq", 0), attempt=event.get("attempt", 1),
                   first_t=event.get("first_t"), not_retried=event.get("not_retried"))

    @property
    def operation(self) -> tuple[int, float]:
        """Its operation's identity: its seq and its first attempt's planned start (recordings older than seq
        numbers have them all 0)."""
        return self.seq, self.t if self.first_t is None else self.first_t

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
    waiting, so failed where the steady state is judged; not in `errors`."""


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
        p50_s=rounded(percentile((r.latency_s for r in requests), 50)),
        p95_s=rounded(percentile((r.latency_s for r in requests), 95)),
        failure_p50_s=rounded(percentile((r.latency_s for r in errors), 50)),
        slow=sum(1 for r in requests if r.ok and not criteria.good(r)),
    )


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
            errors_in_window += 0 if criteria.good(candidates[end_index]) else 1
            end_index += 1
        count = end_index - begin_index
        if count >= RECOVERY_MIN_REQUESTS and errors_in_window / count <= max_error_rate:
            return first.t
        errors_in_window -= 0 if criteria.good(first) else 1
    return None


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
