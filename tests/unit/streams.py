"""Synthetic recordings: the event stream a run of the seed scenario produces, with knobs to break it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

REPLICAS = ("app-1", "app-2", "app-3")


@dataclass
class Incident:
    rate: float = 20.0
    fault_t: float | None = 15.0
    restart_t: float | None = 21.0
    mitigation_t: float = 45.0
    fault_cleared_t: float | None = 45.0
    """When the fault really stops (None: never): differs from mitigation_t when the fix is wrong."""
    end_t: float = 80.0
    alert_t: float | None = 18.5
    failure_latency_s: float = 3.0
    complete: bool = True
    missing_writes: tuple[int, ...] = ()
    rescued_s: float = 0.0
    """app-2's requests started this long before the fault is cleared are still waiting then, and succeed just
    after it."""
    late_s: Callable[[int], float] | None = None
    """How late request `seq` really started (its `started_t`); None: a recording from before planned starts."""


def wall(t: float) -> str:
    seconds = 10 * 60 + t
    return f"2026-11-26T21:{int(seconds // 60):02d}:{seconds % 60:06.3f}+00:00"


def event(kind: str, t: float, **fields: Any) -> dict[str, Any]:
    return {"t": round(t, 4), "wall": wall(t), "kind": kind, **fields}


def step(index: int, t: float, action: str, clock: str, **fields: Any) -> dict[str, Any]:
    fields = {"planned_t": t, "skew_s": 0.001, "took_s": 0.1, "ok": True, "detail": "", "text": "", **fields}
    return event("step", t + 0.001, index=index, action=action, clock=clock, **fields)


def recording(incident: Incident | None = None) -> list[dict[str, Any]]:
    spec = incident or Incident()
    events = [event("run.started", 0.0, run_id="r1", scenario="db-network-misconfig", rate=spec.rate)]
    count = int(spec.end_t * spec.rate)
    for seq in range(count):
        t = seq / spec.rate
        replica = REPLICAS[seq % 3]
        cleared = spec.fault_cleared_t if spec.fault_cleared_t is not None else float("inf")
        hit = spec.fault_t is not None and spec.fault_t <= t < cleared and replica == "app-2"
        broken = hit and t < cleared - spec.rescued_s
        latency_s = spec.failure_latency_s if broken else round(cleared - t + 0.004, 4) if hit else 0.004
        events.append(event(
            "request", t, seq=seq, endpoint="GET /orders/{id}", status=503 if broken else 200, ok=not broken,
            latency_s=latency_s, replica=replica,
            error="psycopg_pool.PoolTimeout: couldn't get a connection" if broken else None, order_id=None,
            **({} if spec.late_s is None else {"started_t": round(t + spec.late_s(seq), 4)}),
        ))
    if spec.fault_t is not None:
        events.append(step(0, spec.fault_t, "apply", "14:00", fault="db-drop"))
    events.append(step(1, 16.7, "note", "14:05", milestone="investigating"))
    if spec.restart_t is not None:
        events.append(step(2, spec.restart_t, "restart", "14:20", service="db", took_s=1.6))
    events.append(step(4, 40.0, "note", "15:15", milestone="identified"))
    events.append(step(5, spec.mitigation_t, "revert", "15:30", milestone="mitigation", fault="db-drop"))
    if spec.alert_t is not None:
        events.append(event("alert.fired", spec.alert_t, alert="error-rate-high", error_rate=0.3, window_s=5))
    if spec.complete:
        events.append(event("writes.verified", spec.end_t, acknowledged=100, found=100 - len(spec.missing_writes),
                            missing=list(spec.missing_writes)))
        events.append(event("run.ended", spec.end_t + 0.1, partial=False, reason="completed",
                            requests_sent=count, requests_recorded=count))
    return events
