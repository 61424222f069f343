"""Synthetic users: the orders workload, sent open loop through the load balancer at a steady rate.

Open loop matters: a slow replica must not slow the stream down (closed-loop generators under-report outages
because they stop sending while they wait). The sending is lab.loadgen's; this module decides what each user
does (reads of orders it was told about, or new orders) and records each request as a `request` event: `t` is its
planned start, `started_t` when it really started, `latency_s` runs from the planned start; outcome and replica
(the X-Served-By header). Every acknowledged write is remembered for the end-of-run check.
"""

from __future__ import annotations

import json
import random

from lab.clock import Clock
from lab.events import EventLog
from lab.loadgen import OpenLoop, Planned, Sent
from lab.scenario import TrafficSpec

READ, WRITE = "GET /orders/{id}", "POST /orders"


class SyntheticUsers:
    def __init__(self, lb_url: str, spec: TrafficSpec, log: EventLog, clock: Clock, seed: int = 0) -> None:
        self.spec = spec
        self.log = log
        self._random = random.Random(seed)
        self.acknowledged: list[int] = []
        self._generator = OpenLoop(lb_url, spec.rate, spec.timeout_s, clock, self._plan, self._record)

    @property
    def sent(self) -> int:
        return self._generator.sent

    @property
    def recorded(self) -> int:
        return self._generator.recorded

    def start(self) -> None:
        self._generator.start()

    def stop(self) -> None:
        """Stop sending, then wait for the requests in flight (bounded by their timeout)."""
        self._generator.stop()

    def _plan(self, seq: int, planned_t: float) -> Planned:
        if self.acknowledged and self._random.random() < self.spec.read_ratio:
            return Planned(seq, planned_t, "GET", f"/orders/{self._random.choice(self.acknowledged)}")
        body = json.dumps({"item": f"item-{seq}", "quantity": 1 + seq % 5}).encode()
        return Planned(seq, planned_t, "POST", "/orders", body)

    def _record(self, sent: Sent) -> None:
        planned = sent.planned
        error, order_id = sent.error, None
        if sent.status == 201:
            try:
                order_id = int(json.loads(sent.payload)["id"])
                self.acknowledged.append(order_id)
            except (ValueError, KeyError, TypeError) as exc:
                error = f"{type(exc).__name__}: unreadable answer to a write: {sent.payload[:200]!r}"
        elif sent.status is not None and sent.status >= 400:
            error = _error_from(sent.payload)
        self.log.emit("request", t=round(planned.planned_t, 4), started_t=round(sent.started_t, 4), seq=planned.seq,
                      endpoint=WRITE if planned.method == "POST" else READ, status=sent.status,
                      ok=sent.status in (200, 201) and error is None, latency_s=round(sent.latency_s, 4),
                      replica=sent.headers.get("X-Served-By"), error=error, order_id=order_id)


def _error_from(payload: bytes) -> str:
    try:
        body = json.loads(payload)
        return f"{body.get('error', '')}: {body.get('detail', '')}".strip(": ")
    except (ValueError, AttributeError):
        return payload[:200].decode(errors="replace").strip()
