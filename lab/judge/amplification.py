"""Operations and attempts: what retrying clients (lab.record.retries) offered the service against the load the
users planned, and what the users finally got.

An operation is what a user set out to do: its first attempt, planned by the schedule, and its retries. The base load
is the first attempts; the offered load is every attempt. Their ratio is the amplification: 1.0 without retries,
`attempts` when a service fails fast for longer than every backoff and nothing bounds the retries (a retry storm).
Over a window, both are counted by planned start in it: a window's amplification is the load the service was
offered then against the load users planned then. An operation succeeded if any of its attempts did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lab.judge.requests import Request
from lab.record.retries import BUDGET_SPENT, NO_ATTEMPT_LEFT


@dataclass(frozen=True)
class Load:
    """The attempts planned in a window against its first attempts."""

    operations: int
    attempts: int

    @property
    def amplification(self) -> float | None:
        return round(self.attempts / self.operations, 3) if self.operations else None

    def as_dict(self) -> dict[str, float | int | None]:
        return {"operations": self.operations, "attempts": self.attempts, "amplification": self.amplification}


@dataclass(frozen=True)
class Amplification:
    operations: int
    """First attempts recorded: the base load."""
    attempts: int
    """Every request recorded: the offered load."""
    amplification: float | None
    succeeded: int
    """Operations one of whose attempts succeeded."""
    success_share: float | None
    first_try_share: float | None
    """Operations whose first attempt succeeded: the share the users would have had without retrying."""
    before_fault: dict[str, float | int | None] | None = None
    """Load (operations, attempts, amplification) from the traffic's start to the first fault."""
    during_faults: dict[str, float | int | None] | None = None
    """Load while any fault was in effect."""
    during_faults_success_share: float | None = None
    """Of the operations begun while a fault was in effect, the share that finally succeeded."""
    not_retried: dict[str, int] = field(default_factory=dict)
    """Retryable failures without a retry, by why: "budget" (spent), "attempts" (none left)."""


def load_in(requests: Sequence[Request], spans: Sequence[tuple[float, float]]) -> Load:
    """The load planned in the spans (each [start, end))."""
    inside = [r for r in requests if any(start <= r.t < end for start, end in spans)]
    return Load(operations=sum(1 for r in inside if r.attempt == 1), attempts=len(inside))


def amplification_of(requests: Sequence[Request], fault_t: float | None,
                     spans: Sequence[tuple[float, float]]) -> Amplification:
    """`fault_t`: when the first fault was applied; `spans`: when faults were in effect (merged)."""
    succeeded: dict[tuple[int, float], bool] = {}
    for request in requests:
        succeeded[request.operation] = succeeded.get(request.operation, False) or request.ok
    firsts = [r for r in requests if r.attempt == 1]
    operations = len(firsts)

    def share(count: int, of: int) -> float | None:
        return round(count / of, 4) if of else None

    total = Load(operations, len(requests))
    during = [r for r in firsts if any(start <= r.t < end for start, end in spans)]
    start_t = min((r.t for r in requests), default=0.0)
    return Amplification(
        operations=operations, attempts=len(requests), amplification=total.amplification,
        succeeded=sum(succeeded.values()), success_share=share(sum(succeeded.values()), len(succeeded)),
        first_try_share=share(sum(1 for r in firsts if r.ok), operations),
        before_fault=load_in(requests, [(start_t, fault_t)]).as_dict() if fault_t is not None else None,
        during_faults=load_in(requests, spans).as_dict() if spans else None,
        during_faults_success_share=share(sum(1 for r in during if succeeded[r.operation]), len(during)),
        not_retried={why: count for why in (BUDGET_SPENT, NO_ATTEMPT_LEFT)
                     if (count := sum(1 for r in requests if r.not_retried == why))})


def describe(figures: Mapping[str, Any] | None) -> str | None:
    """One line for people, from summary.json's `amplification`; None when no operation was retried."""
    if not figures or figures.get("attempts", 0) <= figures.get("operations", 0):
        return None

    def times(load: Mapping[str, Any] | None) -> str:
        return "-" if not load or load.get("amplification") is None else f"{load['amplification']:.2f}x"

    line = (f"{figures['operations']:,} operations, {figures['attempts']:,} attempts: offered load "
            f"{times(figures)} the base load, {times(figures.get('during_faults'))} during the faults, "
            f"{times(figures.get('before_fault'))} before; {_percent(figures.get('success_share'))} of operations "
            f"finally succeeded ({_percent(figures.get('first_try_share'))} at their first attempt")
    during = figures.get("during_faults_success_share")
    line += f", {_percent(during)} of those begun during the faults)" if during is not None else ")"
    refused = figures.get("not_retried") or {}
    if refused.get(BUDGET_SPENT):
        line += f"; {refused[BUDGET_SPENT]:,} retries refused by the budget"
    return line


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share:.1%}"
