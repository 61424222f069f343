"""What the on-call trainee sees, computed from the drill's events: error rate, p95 and requests by replica over the
last seconds, the alerts firing and the newest app errors. Shared by the terminal dashboard and the game day's
web page, so both show the same figures. Deliberately no word of what the fault is."""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass

from lab.judge.requests import percentile
from lab.record.events import Event

WINDOW_S = 10.0
NEWEST_ERRORS = 4


@dataclass(frozen=True)
class ReplicaLoad:
    replica: str
    requests: int
    errors: int


@dataclass(frozen=True)
class LiveFigures:
    t: float
    window_s: float
    requests: int
    errors: int
    p95_s: float | None
    by_replica: tuple[ReplicaLoad, ...]
    """Requests answered by each replica; failures no replica answered (a connect timeout) count under "none"."""
    alerts: tuple[str, ...]
    newest_errors: tuple[str, ...]

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def rate_per_s(self) -> float:
        return self.requests / self.window_s


class LiveState:
    """Feed it every event (it is an EventLog subscriber); `figures(now)` is safe from any thread."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._lock = threading.Lock()
        self._requests: deque[tuple[float, bool, float, str]] = deque()
        self._errors: deque[str] = deque(maxlen=NEWEST_ERRORS)
        self._alerts: set[str] = set()

    def __call__(self, event: Event) -> None:
        kind = event["kind"]
        with self._lock:
            if kind == "request":
                self._requests.append((event["t"] + event["latency_s"], bool(event["ok"]), event["latency_s"],
                                       event.get("replica") or "none"))
            elif kind == "app.db_error":
                self._errors.append(f"{event['t']:7.1f}s {event['replica']}: {event['error_class']}: "
                                    f"{str(event['message']).splitlines()[0][:80]}")
            elif kind == "alert.fired":
                self._alerts.add(event["alert"])
            elif kind == "alert.resolved":
                self._alerts.discard(event["alert"])

    def figures(self, now: float) -> LiveFigures:
        """Requests completed in the last `window_s` before `now` (drill time)."""
        with self._lock:
            while self._requests and self._requests[0][0] < now - self.window_s:
                self._requests.popleft()
            window = list(self._requests)
            errors, alerts = tuple(self._errors), tuple(sorted(self._alerts))
        served = Counter(replica for *_, replica in window)
        failed = Counter(replica for _, ok, _, replica in window if not ok)
        return LiveFigures(
            t=now, window_s=self.window_s, requests=len(window), errors=sum(failed.values()),
            p95_s=percentile((latency for _, _, latency, _ in window), 95),
            by_replica=tuple(ReplicaLoad(name, served[name], failed[name]) for name in sorted(served)),
            alerts=alerts, newest_errors=errors)
