"""Synthetic users: the scenario's workload (the orders workload by default), sent open loop through the stack's
entry point at a steady rate.

Open loop matters: a slow replica must not slow the stream down (closed-loop generators under-report outages
because they stop sending while they wait). The sending is lab.record.loadgen's; this module decides what each user does
(the workload's mix, reads of ids it was told about) and records each request as a `request` event: `t` is its
planned start, `started_t` when it really started, `latency_s` runs from the planned start; outcome and replica
(the stack's served-by header). Every acknowledged write is remembered for the end-of-run check.

With a retry policy (`traffic.retry`), each attempt is its own `request` event: `attempt` (1 for the first), the
same `seq` as its operation's first attempt and that attempt's planned start (`first_t`), and what followed it
(`retry_in_s`, or `not_retried`: why a retryable failure had no retry).
"""

from __future__ import annotations

import json
import random
from typing import Any

from lab.clock import Clock
from lab.record.events import EventLog
from lab.record.loadgen import OpenLoop, Planned, Sent
from lab.record.retries import Retries
from lab.record.schema import UserRequest
from lab.scenario.traffic import TrafficSpec
from lab.scenario.workload import ACKNOWLEDGED, SEQ, WorkloadRequest, WorkloadSpec, orders_workload


class SyntheticUsers:
    def __init__(self, lb_url: str, spec: TrafficSpec, log: EventLog, clock: Clock, seed: int = 0,
                 workload: WorkloadSpec | None = None, served_by_header: str | None = "X-Served-By") -> None:
        self.spec = spec
        self.log = log
        self.served_by_header = served_by_header
        self._mix = Mix(workload or orders_workload(spec.read_ratio), seed)
        self.acknowledged: list[Any] = []
        retries = Retries(spec.retry, seed) if spec.retry is not None else None
        self._generator = OpenLoop(lb_url, spec.rate, spec.timeout_s, clock, self._plan, self._record, retries)

    @property
    def sent(self) -> int:
        """Requests sent: first attempts and retries."""
        return self._generator.sent + self._generator.retried

    @property
    def recorded(self) -> int:
        return self._generator.recorded

    def start(self) -> None:
        self._generator.start()

    def change_rate(self, rate: float, ramp_s: float) -> None:
        """From the next request on, `rate` per second, reached along a ramp of `ramp_s` seconds."""
        self._generator.change_rate(rate, ramp_s)

    def stop(self) -> None:
        """Stop sending, then wait for the requests in flight (bounded by their timeout)."""
        self._generator.stop()

    def _plan(self, seq: int, planned_t: float) -> Planned:
        return self._mix.plan(seq, planned_t, self.acknowledged)

    def _record(self, sent: Sent) -> None:
        request = sent.planned
        assert request.template is not None  # planned by the mix
        error, order_id = sent.error, None
        if sent.status is not None:
            try:
                order_id = acknowledged_id(request.template, sent.status, sent.payload)
            except (ValueError, KeyError, TypeError) as exc:
                error = f"{type(exc).__name__}: unreadable answer to a write: {sent.payload[:200]!r}"
            if order_id is not None:
                self.acknowledged.append(order_id)
            elif error is None and sent.status not in request.template.expect:
                error = _error_from(sent.payload) or f"HTTP {sent.status}"
        self.log.emit(UserRequest(started_t=round(sent.started_t, 4), seq=request.seq, endpoint=request.endpoint,
                                  status=sent.status, ok=sent.status in request.template.expect and error is None,
                                  latency_s=round(sent.latency_s, 4),
                                  replica=sent.headers.get(self.served_by_header) if self.served_by_header else None,
                                  error=error, order_id=order_id, attempt=request.attempt,
                                  first_t=None if request.first_t is None else round(request.first_t, 4),
                                  retry_in_s=None if sent.then.wait_s is None else round(sent.then.wait_s, 4),
                                  not_retried=sent.then.refused), t=round(sent.planned.planned_t, 4))


def _error_from(payload: bytes) -> str:
    try:
        body = json.loads(payload)
        return f"{body.get('error', '')}: {body.get('detail', '')}".strip(": ")
    except (ValueError, AttributeError):
        return payload[:200].decode(errors="replace").strip()


class Mix:
    """Draws the next request of a workload (seeded, so a run's mix repeats with its seed)."""

    def __init__(self, spec: WorkloadSpec, seed: int) -> None:
        self.spec = spec
        self._random = random.Random(seed)
        self._ready = [r for r in spec.requests if not r.needs_acknowledged]

    def plan(self, seq: int, planned_t: float, acknowledged: list[Any]) -> Planned:
        pool = list(self.spec.requests) if acknowledged else self._ready
        template = self._random.choices(pool, weights=[r.share for r in pool])[0]
        chosen = self._random.choice(acknowledged) if acknowledged and template.needs_acknowledged else None

        def fill(text: str) -> str:
            return text.replace(SEQ, str(seq)).replace(ACKNOWLEDGED, str(chosen))

        body = fill(template.body).encode() if template.body is not None else None
        return Planned(seq, planned_t, template.method, fill(template.path), body, template.name, template)


def acknowledged_id(template: WorkloadRequest, status: int, payload: bytes) -> Any:
    """The id a successful reply acknowledges (None if the request acknowledges nothing)."""
    if template.acknowledges is None or status not in template.expect:
        return None
    found = json.loads(payload)[template.acknowledges]
    if isinstance(found, bool) or not isinstance(found, int | str):
        raise ValueError(f"{template.acknowledges} is not an id: {found!r}")
    return found
