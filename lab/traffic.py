"""Synthetic users: an open-loop request stream through the load balancer at a steady rate.

Open loop matters: a slow replica must not slow the stream down (closed-loop generators under-report outages
because they stop sending while they wait). Each request is its own TCP connection, so the load balancer
balances every request, and each one becomes a `request` event with its start offset, outcome and replica.
"""

from __future__ import annotations

import http.client
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from lab.clock import Clock
from lab.events import EventLog
from lab.scenario import TrafficSpec
from lab.workload import Mix, PlannedRequest, WorkloadSpec, acknowledged_id, orders_workload


class SyntheticUsers:
    def __init__(self, lb_url: str, spec: TrafficSpec, log: EventLog, clock: Clock, seed: int = 0,
                 workload: WorkloadSpec | None = None) -> None:
        parts = urlsplit(lb_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.spec = spec
        self.log = log
        self.clock = clock
        self._mix = Mix(workload or orders_workload(spec.read_ratio), seed)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.acknowledged: list[Any] = []
        self.sent = 0
        self.recorded = 0
        workers = min(512, int(spec.rate * (spec.timeout_s + 1)) + 8)  # enough for every request to hang
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="user")
        self._thread = threading.Thread(target=self._pace, name="traffic", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop sending, then wait for the requests in flight (bounded by their timeout)."""
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True)

    def _pace(self) -> None:
        start = self.clock.now()
        seq = 0
        while self.clock.wait_until(start + seq / self.spec.rate, self._stop):
            self._pool.submit(self._send, self._plan(seq))
            seq += 1
            self.sent = seq

    def _plan(self, seq: int) -> PlannedRequest:
        with self._lock:
            acknowledged = list(self.acknowledged)
        return self._mix.plan(seq, acknowledged)

    def _send(self, planned: PlannedRequest) -> None:
        started = self.clock.now()
        status: int | None = None
        replica: str | None = None
        error: str | None = None
        order_id: Any = None
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.spec.timeout_s)
        try:
            headers = {"Connection": "close", "Content-Type": "application/json"}
            connection.request(planned.method, planned.path, body=planned.body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            status, replica = response.status, response.getheader("X-Served-By")
            order_id = acknowledged_id(planned.template, status, payload)
            if order_id is not None:
                with self._lock:
                    self.acknowledged.append(order_id)
            elif status not in planned.template.expect:
                error = _error_from(payload) or f"HTTP {status}"
        except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        latency = self.clock.now() - started
        self.log.emit("request", t=started, seq=planned.seq, endpoint=planned.endpoint, status=status,
                      ok=status in planned.template.expect and error is None, latency_s=round(latency, 4),
                      replica=replica, error=error, order_id=order_id)
        with self._lock:
            self.recorded += 1


def _error_from(payload: bytes) -> str:
    try:
        body = json.loads(payload)
        return f"{body.get('error', '')}: {body.get('detail', '')}".strip(": ")
    except (ValueError, AttributeError):
        return payload[:200].decode(errors="replace").strip()
