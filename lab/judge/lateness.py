"""Did the load generator keep its schedule? Lateness is how long after its planned start a request really
started; the recording is only as trustworthy as the generator was punctual (see lab.record.loadgen).

Recordings made before requests carried their actual start (no `started_t`) count as punctual: planned = actual.

It is about the schedule's planned first attempts (lab.judge.analysis passes only those): a retry's planned start is
its failure's end plus a backoff, kept by the loop's timer too, but not part of the schedule a user at the rate sets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

LATE_S = 0.010
"""A request that started more than this after its planned start is counted as late."""


@dataclass(frozen=True)
class Lateness:
    requests: int
    p50_s: float | None
    p99_s: float | None
    max_s: float | None
    late: int
    """Requests that started more than LATE_S after their planned start."""
    late_over_s: float = LATE_S


def lateness_of(latenesses: Sequence[float]) -> Lateness:
    """Nearest-rank percentiles of the given latenesses (seconds; never below 0)."""
    ordered = sorted(max(0.0, value) for value in latenesses)
    if not ordered:
        return Lateness(requests=0, p50_s=None, p99_s=None, max_s=None, late=0)

    def rank(q: float) -> float:  # nearest rank, as lab.judge.analysis.percentile (which imports this module)
        return round(ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1], 5)

    return Lateness(requests=len(ordered), p50_s=rank(50), p99_s=rank(99), max_s=round(ordered[-1], 5),
                    late=sum(1 for value in ordered if value > LATE_S))


def describe(lateness: Lateness) -> str:
    """One line for people: "p50 0.3 ms, p99 1.2 ms, max 4.0 ms; 0 of 1,200 requests over 10 ms"."""
    if lateness.requests == 0:
        return "no requests recorded"
    return (f"p50 {_ms(lateness.p50_s)}, p99 {_ms(lateness.p99_s)}, max {_ms(lateness.max_s)}; {lateness.late:,} of "
            f"{lateness.requests:,} requests over {lateness.late_over_s * 1000:g} ms")


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"
