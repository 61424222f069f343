"""Synthetic users: an open-loop request stream through the load balancer at a steady rate.

Open loop matters: a slow replica must not slow the stream down (closed-loop generators under-report outages
because they stop sending while they wait). Each request is its own TCP connection, so the load balancer
balances every request, and each one becomes a `request` event with its start offset, outcome and replica.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from lab.clock import Clock
from lab.events import EventLog
from lab.scenario import TrafficSpec


@dataclass(frozen=True)
class PlannedRequest:
    seq: int
    method: str
    path: str
    endpoint: str
    body: bytes | None


class SyntheticUsers:
    def __init__(self, lb_url: str, spec: TrafficSpec, log: EventLog, clock: Clock, seed: int = 0) -> None:
        parts = urlsplit(lb_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.spec = spec
        self.log = log
        self.clock = clock
        self._random = random.Random(seed)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.acknowledged: list[int] = []
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
            order_id = self._random.choice(self.acknowledged) if self.acknowledged else None
        if order_id is not None and self._random.random() < self.spec.read_ratio:
            return PlannedRequest(seq, "GET", f"/orders/{order_id}", "GET /orders/{id}", None)
        body = json.dumps({"item": f"item-{seq}", "quantity": 1 + seq % 5}).encode()
        return PlannedRequest(seq, "POST", "/orders", "POST /orders", body)

    def _send(self, planned: PlannedRequest) -> None:
        started = self.clock.now()
        status: int | None = None
        replica: str | None = None
        error: str | None = None
        order_id: int | None = None
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.spec.timeout_s)
        try:
            headers = {"Connection": "close", "Content-Type": "application/json"}
            connection.request(planned.method, planned.path, body=planned.body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            status, replica = response.status, response.getheader("X-Served-By")
            if status == 201:
                order_id = int(json.loads(payload)["id"])
                with self._lock:
                    self.acknowledged.append(order_id)
            elif status >= 400:
                error = _error_from(payload)
        except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        latency = self.clock.now() - started
        self.log.emit("request", t=started, seq=planned.seq, endpoint=planned.endpoint, status=status,
                      ok=status in (200, 201), latency_s=round(latency, 4), replica=replica, error=error,
                      order_id=order_id)
        with self._lock:
            self.recorded += 1


def _error_from(payload: bytes) -> str:
    try:
        body = json.loads(payload)
        return f"{body.get('error', '')}: {body.get('detail', '')}".strip(": ")
    except (ValueError, AttributeError):
        return payload[:200].decode(errors="replace").strip()
