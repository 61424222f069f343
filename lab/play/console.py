"""What a person sees while a run goes: each step as it happens, alerts, and a status line (what is next, in how
long, the live error rate); then the summary table. An observer of the event log: it never stops the run.

Only the lab's own words carry Rich markup: what the scenario and the stack say (step texts, details, an app's
error message with its `[::1]` or JSON array) is escaped, or it would be read as styles and lost, or stop the
console with a MarkupError at its first `[/...]`. And every console the lab prints on is made by `terminal()`,
which leaves `:x:` and `:thumbs_up:` as written: escaping does not stop Rich from turning emoji codes into emoji."""

from __future__ import annotations

import threading
from collections import deque
from typing import IO, Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from lab.clock import Clock
from lab.judge.amplification import describe as describe_retries
from lab.judge.lateness import Lateness, describe
from lab.record.events import Event
from lab.record.schema import alert_saw

NARROWEST = 60
"""The narrowest width the lab's tables read at (`lab scenarios`: its name column beside the figures)."""
DEFAULT_WIDTH = 80
"""What Rich prints at when it cannot tell (not a terminal, no COLUMNS)."""
LIVE_WINDOW_S = 5.0
PLAIN_STATUS_EVERY_S = 10.0
ENGINE_NEWS = {
    "engine.lost": "the Docker engine went away ({detail}): stopping the run",
    "engine.waiting": "waiting up to {timeout_s:.0f} s for the engine to come back, to clean up",
    "engine.returned": "the engine is back after {waited_s:.1f} s: reverting, checking writes, removing the stack",
    "engine.gone": "the engine did not come back in {waited_s:.0f} s: the next lab command removes this run",
}


def terminal(*, highlight: bool = True, file: IO[str] | None = None, width: int | None = None) -> Console:
    """A console as the lab prints on (stdout unless `file`): no emoji codes read in what it prints, since those come
    from the data (an app's `error: code :x: failed`) and the lab's own words use none. A width under NARROWEST
    (COLUMNS=0, say) is taken for a variable set wrong and replaced by DEFAULT_WIDTH: Rich squeezes a table into it
    until no cell holds a character, and a listing would print nothing at all."""
    console = Console(emoji=False, highlight=highlight, file=file, width=width)
    if width is None and console.width < NARROWEST:
        console.width = DEFAULT_WIDTH
    return console


class ConsoleProgress:
    def __init__(self, console: Console, clock: Clock) -> None:
        self.console = console
        self.clock = clock
        self._lock = threading.Lock()
        self._recent: deque[tuple[float, bool]] = deque()
        self._requests = 0
        self._next: Event | None = None
        self._alerts: set[str] = set()
        self._stop = threading.Event()
        self._live: Live | None = None
        self._ticker = threading.Thread(target=self._tick, name="console", daemon=True)

    def start(self) -> None:
        if self.console.is_terminal:
            self._live = Live(self.status_line(), console=self.console, refresh_per_second=4, transient=True)
            self._live.start()
        self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        self._ticker.join(timeout=2)
        if self._live is not None:
            self._live.stop()

    def __call__(self, event: Event) -> None:
        kind = event["kind"]
        if kind == "request":
            with self._lock:
                self._requests += 1
                self._recent.append((event["t"] + event["latency_s"], bool(event["ok"])))
        elif kind == "step.due":
            self._next = event
        elif kind == "step":
            mark = "ok" if event["ok"] else "FAILED"
            self.console.print(
                f"[bold]{event['t']:7.1f}s[/] {escape(event.get('clock') or ''):5} {escape(event['action']):8} "
                f"{escape(str(event.get('text', '')))}"
                f"  [dim]({mark}: {escape(str(event.get('detail', '')))}; skew {event['skew_s'] * 1000:+.0f} ms,"
                f" took {event['took_s']:.2f} s)[/]",
                markup=True, highlight=False,
            )
        elif kind in ("alert.fired", "alert.resolved"):
            if kind == "alert.fired":
                self._alerts.add(event["alert"])
            else:
                self._alerts.discard(event["alert"])
            word = "[red]ALERT[/]" if kind == "alert.fired" else "[green]resolved[/]"
            window = f" over {event['window_s']:g} s" if event.get("window_s") is not None else ""
            self.console.print(f"[bold]{event['t']:7.1f}s[/]       {word}   {escape(event['alert'])} "
                               f"({escape(alert_saw(event))}{window})", markup=True)
        elif kind in ENGINE_NEWS:
            news = escape(ENGINE_NEWS[kind].format(**event))
            self.console.print(f"[bold]{event['t']:7.1f}s[/]       [red]ENGINE[/]  {news}",
                               markup=True, highlight=False)

    def live_error_rate(self) -> float | None:
        now = self.clock.now()
        with self._lock:
            while self._recent and self._recent[0][0] < now - LIVE_WINDOW_S:
                self._recent.popleft()
            if not self._recent:
                return None
            return sum(1 for _, ok in self._recent if not ok) / len(self._recent)

    def status_line(self) -> Text:
        now = self.clock.now()
        rate = self.live_error_rate()
        parts = [f"t={now:6.1f}s", f"requests {self._requests}",
                 f"errors (last {LIVE_WINDOW_S:g} s) " + ("-" if rate is None else f"{rate:.0%}")]
        if self._alerts:
            parts.append("ALERT " + ", ".join(sorted(self._alerts)))
        if self._next is not None and self._next["planned_t"] > now:
            parts.append(f"next: {self._next['action']} {self._next.get('clock', '')} "
                         f"in {self._next['planned_t'] - now:.1f} s")
        return Text(" | ".join(parts), style="cyan")

    def _tick(self) -> None:
        interval = 0.25 if self._live else PLAIN_STATUS_EVERY_S
        while not self._stop.wait(interval):
            if self._live is not None:
                self._live.update(self.status_line())
            else:
                self.console.print(self.status_line())


def summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title=escape(f"{summary['scenario']}: {summary['verdict'].upper()}"), show_lines=False)
    table.add_column("what")
    table.add_column("value")
    for milestone in summary["milestones"]:
        clock = f" ({milestone['clock']})" if milestone.get("clock") else ""
        table.add_row(escape(f"{milestone['name']}{clock}"),
                      escape(f"t={milestone['t']:.1f}s  {milestone.get('detail', '')}"))
    for interval in summary["intervals"]:
        span = f"{interval['seconds']:.1f} s ({interval['start']} -> {interval['end']})"
        table.add_row(f"[bold]{escape(interval['name'])}[/]", escape(span))
    for label, key in (("steady state", "steady"), ("during the fault", "fault")):
        window = summary.get(key)
        if window:
            overall = window["overall"]
            p95 = "-" if overall["p95_s"] is None else f"{overall['p95_s']:.2f} s"
            slow = overall["slow"]
            slower = f", {slow} answered slower than {summary.get('slow_s', 1.0):g} s" if slow else ""
            table.add_row(label, f"{overall['requests']} requests, error rate {overall['error_rate']:.1%}{slower}, "
                                 f"p95 {p95}")
    lateness = summary.get("lateness")
    if lateness and lateness["requests"]:
        table.add_row("request start lateness", describe(Lateness(**lateness)))
    retried = describe_retries(summary.get("amplification"))
    if retried:
        table.add_row("retries", retried)
    skew = summary["skew"]
    if skew["max_s"] is not None:
        table.add_row("step skew", f"median {skew['median_s'] * 1000:.1f} ms, p99 {skew['p99_s'] * 1000:.1f} ms, "
                                   f"max {skew['max_s'] * 1000:.1f} ms")
    for check in summary["checks"]:
        mark = "[green]PASS[/]" if check["passed"] else "[red]FAIL[/]"
        table.add_row(f"{mark} {escape(check['name'])}", escape(check["detail"]))
    return table
