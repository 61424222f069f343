"""What the on-call trainee sees: error rate, latency, firing alerts and the newest app errors. Deliberately no
word of what the fault is: the trainee has to find it."""

from __future__ import annotations

import threading

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.text import Text

from lab.clock import Clock
from lab.drill.live import LiveState
from lab.record.events import Event
from lab.record.schema import alert_saw

PLAIN_EVERY_S = 15.0
HELP = ("lab ack | lab note TEXT | lab hint | lab logs SERVICE | lab exec [--netns] SERVICE -- CMD | "
        "lab restart SERVICE | lab give-up")


class Dashboard:
    def __init__(self, console: Console, clock: Clock) -> None:
        self.console, self.clock = console, clock
        self.live = LiveState()
        self._hint = ""
        self._stop = threading.Event()
        self._live: Live | None = None
        self._thread = threading.Thread(target=self._refresh, name="dashboard", daemon=True)

    def __call__(self, event: Event) -> None:
        self.live(event)
        if event["kind"] == "alert.fired" and self._live is None:
            self.console.print(f"ALERT {event['alert']}: {alert_saw(event)}", markup=False)

    def show_hint(self, text: str) -> None:
        self._hint = text
        if self._live is None:
            self.console.print(text, markup=False)

    def render(self) -> Panel:
        figures = self.live.figures(self.clock.now())
        rate, p95, errors, alerts = figures.error_rate, figures.p95_s, figures.newest_errors, figures.alerts
        status = Text(f"t={figures.t:7.1f}s   {figures.rate_per_s:5.1f} req/s   errors {rate:5.1%}   p95 "
                      f"{'-' if p95 is None else f'{p95:.2f} s'}", style="red" if rate > 0.05 else "green")
        replicas = Text("served by: " + "   ".join(f"{load.replica} {load.requests} ({load.errors} failed)"
                                                  for load in figures.by_replica), style="dim")
        alert_line = Text("ALERTS: " + ", ".join(alerts) if alerts else "no alert firing",
                          style="bold red" if alerts else "dim")
        parts = [status, replicas, alert_line, Text("newest app errors:", style="bold"),
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
        if self._thread.ident is not None:  # an interrupt can come before start()
            self._thread.join(timeout=2)
        if self._live is not None:
            self._live.stop()

    def _refresh(self) -> None:
        while not self._stop.wait(0.5 if self._live else PLAIN_EVERY_S):
            if self._live is not None:
                self._live.update(self.render())
            else:
                self.console.print(self.render().renderable)
