"""What the on-call trainee sees: error rate, latency, firing alerts and the newest app errors. Deliberately no
word of what the fault is: the trainee has to find it."""

from __future__ import annotations

import threading
from collections import deque

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.text import Text

from lab.clock import Clock
from lab.events import Event
from lab.timeline import percentile

WINDOW_S = 10.0
PLAIN_EVERY_S = 15.0
HELP = ("lab ack | lab note TEXT | lab hint | lab logs SERVICE | lab exec [--netns] SERVICE -- CMD | "
        "lab restart SERVICE | lab give-up")


class Dashboard:
    def __init__(self, console: Console, clock: Clock) -> None:
        self.console, self.clock = console, clock
        self._lock = threading.Lock()
        self._requests: deque[tuple[float, bool, float]] = deque()
        self._errors: deque[str] = deque(maxlen=4)
        self._alerts: set[str] = set()
        self._hint = ""
        self._stop = threading.Event()
        self._live: Live | None = None
        self._thread = threading.Thread(target=self._refresh, name="dashboard", daemon=True)

    def __call__(self, event: Event) -> None:
        kind = event["kind"]
        with self._lock:
            if kind == "request":
                self._requests.append((event["t"] + event["latency_s"], bool(event["ok"]), event["latency_s"]))
            elif kind == "app.db_error":
                self._errors.append(f"{event['t']:7.1f}s {event['replica']}: {event['error_class']}: "
                                    f"{str(event['message']).splitlines()[0][:80]}")
            elif kind == "alert.fired":
                self._alerts.add(event["alert"])
            elif kind == "alert.resolved":
                self._alerts.discard(event["alert"])
        if kind == "alert.fired" and self._live is None:
            self.console.print(f"ALERT {event['alert']}: error rate {event['error_rate']:.0%}")

    def show_hint(self, text: str) -> None:
        self._hint = text
        if self._live is None:
            self.console.print(text)

    def render(self) -> Panel:
        now = self.clock.now()
        with self._lock:
            while self._requests and self._requests[0][0] < now - WINDOW_S:
                self._requests.popleft()
            total = len(self._requests)
            failed = sum(1 for _, ok, _ in self._requests if not ok)
            p95 = percentile((latency for _, _, latency in self._requests), 95)
            errors, alerts = list(self._errors), sorted(self._alerts)
        rate = failed / total if total else 0.0
        status = Text(f"t={now:7.1f}s   {total / WINDOW_S:5.1f} req/s   errors {rate:5.1%}   p95 "
                      f"{'-' if p95 is None else f'{p95:.2f} s'}", style="red" if rate > 0.05 else "green")
        alert_line = Text("ALERTS: " + ", ".join(alerts) if alerts else "no alert firing",
                          style="bold red" if alerts else "dim")
        parts = [status, alert_line, Text("newest app errors:", style="bold"),
                 *(Text(line) for line in errors or ["(none)"])]
        if self._hint:
            parts.append(Text(self._hint, style="yellow"))
        parts.append(Text(HELP, style="dim"))
        return Panel(Group(*parts), title="outage-lab drill: on call")

    def start(self) -> None:
        if self.console.is_terminal:
            self._live = Live(self.render(), console=self.console, refresh_per_second=2)
            self._live.start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        if self._live is not None:
            self._live.stop()

    def _refresh(self) -> None:
        while not self._stop.wait(0.5 if self._live else PLAIN_EVERY_S):
            if self._live is not None:
                self._live.update(self.render())
            else:
                self.console.print(self.render().renderable)
