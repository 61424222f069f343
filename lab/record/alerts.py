"""Alert rules evaluated live on the request stream, like the monitoring in the incident.

The evaluation itself (`AlertState`) is pure: it sees request completions and says when a rule starts or
stops firing. `AlertEvaluator` feeds it from the event log and records the transitions.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from lab.record.events import Event, EventLog
from lab.record.schema import AlertFired, AlertResolved
from lab.scenario.alerts import AlertRule


@dataclass
class AlertState:
    rule: AlertRule
    firing: bool = False
    _window: deque[tuple[float, bool]] = field(default_factory=deque)
    _failed: int = 0
    """Failures in the window, kept as requests come and go: at 1,000 req/s a window holds thousands."""

    def observe(self, done_t: float, ok: bool) -> str | None:
        """Add one completed request; returns "fired", "resolved" or None."""
        self._window.append((done_t, ok))
        self._failed += not ok
        while self._window and self._window[0][0] < done_t - self.rule.window_s:
            self._failed -= not self._window.popleft()[1]
        total = len(self._window)
        rate = self.error_rate
        if not self.firing and total >= self.rule.min_requests and rate > self.rule.error_rate_above:
            self.firing = True
            return "fired"
        if self.firing and rate <= self.rule.error_rate_above:
            self.firing = False
            return "resolved"
        return None

    @property
    def error_rate(self) -> float:
        total = len(self._window)
        return self._failed / total if total else 0.0


class AlertEvaluator:
    def __init__(self, rules: tuple[AlertRule, ...], log: EventLog) -> None:
        self.states = [AlertState(rule) for rule in rules]
        self.log = log
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if event["kind"] != "request":
            return
        done_t = event["t"] + event["latency_s"]
        with self._lock:
            transitions = [(state, state.observe(done_t, event["ok"])) for state in self.states]
        for state, transition in transitions:
            if transition:
                kind = AlertFired if transition == "fired" else AlertResolved
                self.log.emit(kind(alert=state.rule.name, error_rate=round(state.error_rate, 3),
                                   threshold=state.rule.error_rate_above, window_s=state.rule.window_s))
