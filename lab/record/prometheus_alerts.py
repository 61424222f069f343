"""Prometheus's alerts on the recording: its alerts API read every second, each alert name's first series to fire
recorded as `alert.fired` (source "prometheus") and its last to stop as `alert.resolved`. An alert is recorded when
the lab first sees it firing: up to a poll (1 s) after Prometheus's evaluation fired it, about when Alertmanager,
told at the same evaluation, would have paged.

Why the alerts API rather than Alertmanager's: Alertmanager hears of an alert from Prometheus at each evaluation and
sends it on after its group wait, so it can only be later, and a resolved alert stays in it until it times out; the
alerts API says what is firing at the last evaluation. An observer: a failed poll is a warning, never the run's end."""

from __future__ import annotations

import json
import threading
import urllib.request
from typing import Any

from lab.record.events import EventLog
from lab.record.schema import AlertFired, AlertResolved, RecorderWarning

SOURCE = "prometheus"
POLL_S = 1.0
"""As often as Prometheus evaluates its rules (lab.stack.observability.SCRAPE_INTERVAL_S): a shorter poll sees
nothing new."""


def firing(answer: dict[str, Any]) -> dict[str, float | None]:
    """Alert name -> the value of its first firing series (None if Prometheus gave none), from /api/v1/alerts."""
    found: dict[str, float | None] = {}
    for alert in answer.get("data", {}).get("alerts", []):
        name = alert.get("labels", {}).get("alertname")
        if alert.get("state") != "firing" or not name or name in found:
            continue
        try:
            found[name] = float(alert["value"])
        except (KeyError, TypeError, ValueError):  # an older Prometheus, or a value that is not a number
            found[name] = None
    return found


class PrometheusAlerts:
    def __init__(self, prometheus_url: str, log: EventLog, every_s: float = POLL_S) -> None:
        self.url = f"{prometheus_url}/api/v1/alerts"
        self.log = log
        self.every_s = every_s
        self._firing: set[str] = set()
        self._warned = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="prometheus-alerts", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def poll(self) -> None:
        """Read the alerts once and record what changed since the last read."""
        try:
            with urllib.request.urlopen(self.url, timeout=self.every_s) as response:
                now = firing(json.loads(response.read()))
        except (OSError, ValueError) as exc:  # Prometheus restarting, or too busy to answer in a poll's time
            if not self._warned:
                self._warned = True
                self.log.emit(RecorderWarning(source="prometheus-alerts", message=f"{type(exc).__name__}: {exc}"))
            return
        for name in sorted(set(now) - self._firing):
            self.log.emit(AlertFired(alert=name, source=SOURCE, value=now[name]))
        for name in sorted(self._firing - set(now)):
            self.log.emit(AlertResolved(alert=name, source=SOURCE))
        self._firing = set(now)

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.poll()
