"""`lab replay`: the recording played back in the terminal at N times speed, each event when it happened, with a
live line of traffic, error rate and p95 latency, so a trainer can walk a group through the incident."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape

from lab.clock import Clock
from lab.record.events import Event
from lab.record.schema import alert_saw
from lab.report.chart import per_second

STATUS_WINDOW_S = 5
SHOWN_KINDS = ("step", "alert.fired", "alert.resolved", "fault.applied", "fault.reverted", "fault.verified",
               "docker.container", "docker.health", "app.db_error", "recorder.warning", "writes.verified",
               "run.ended", "traffic.changed", "deploy.started", "deploy.replaced", "deploy.halted", "deploy.done")


@dataclass(frozen=True)
class ReplayLine:
    t: float
    text: str
    """Rich markup: what the recording says (step texts, app errors, names) is escaped, so that its brackets are
    printed as written (`[/orders]`, `[::1]`) instead of read as styles."""


def replay_lines(events: list[Event]) -> Iterator[ReplayLine]:
    """What the replay shows, in recording order: one line per interesting event, and a status line a second."""
    bins = per_second(events)
    shown: list[ReplayLine] = []
    seen_errors: set[tuple[str, str]] = set()
    for event in events:
        text = _describe(event, seen_errors)
        if text is not None:
            shown.append(ReplayLine(event["t"], text))
    for second in bins["seconds"][1:]:
        shown.append(ReplayLine(second, _status(bins, second)))
    if not any(e.get("kind") == "run.ended" for e in events):
        last = max((e["t"] for e in events), default=0.0)
        shown.append(ReplayLine(last, "[bold orange3]recording partial: the run ended before it finished[/]"))
    yield from sorted(shown, key=lambda line: line.t)


def _describe(event: Event, seen_errors: set[tuple[str, str]]) -> str | None:
    kind = event.get("kind")
    if kind not in SHOWN_KINDS:
        return None
    if kind == "step":
        clock = event.get("clock") or ""
        return (f"[bold]{_literal(clock):5}[/] [cyan]{_literal(event['action'])}[/] {_literal(event.get('text', ''))}"
                f" [dim]({'ok' if event.get('ok') else 'FAILED'}: {_literal(event.get('detail', ''))})[/]")
    if kind == "alert.fired":
        return f"[bold red]ALERT[/] {_literal(event['alert'])}: {alert_saw(event)}"
    if kind == "alert.resolved":
        return f"[green]alert resolved[/] {_literal(event['alert'])}"
    if kind == "app.db_error":
        key = (str(event.get("replica")), str(event.get("error_class")))
        if key in seen_errors:
            return None  # the first of each kind per replica; the status line carries the rate
        seen_errors.add(key)
        message = next(iter(str(event.get("message", "")).splitlines()), "")  # its first line; an empty one has none
        return (f"[yellow]{_literal(event.get('replica'))} log[/] {_literal(event.get('error_class'))}: "
                f"{_literal(message)}")
    if kind in ("docker.container", "docker.health"):
        what = event.get("health") or event.get("action")
        return f"[magenta]docker[/] {_literal(event.get('service'))}: {_literal(what)}"
    if kind == "writes.verified" and event.get("error"):
        return f"writes not verified: {_literal(event.get('error'))}"
    if kind == "writes.verified":
        return f"writes verified: {event.get('found')} of {event.get('acknowledged')} acknowledged orders present"
    if kind == "run.ended":
        return f"run ended ({_literal(event.get('reason'))})"
    if kind == "traffic.changed":
        ramp = f" over {_literal(event.get('ramp_s'))} s" if event.get("ramp_s") else ""
        return f"[blue]traffic[/] {_literal(event.get('rate'))} requests per second{ramp}"
    if kind in ("deploy.started", "deploy.replaced", "deploy.halted", "deploy.done"):
        return _deploy(event)
    return _literal(f"{kind} {event.get('fault', '')} {event.get('detail', event.get('outcome', ''))}".strip())


def _deploy(event: Event) -> str:
    """A deploy's events as a responder follows a rollout: started, each replica replaced, halted, done."""
    kind, release = event.get("kind"), _literal(event.get("release"))
    if kind == "deploy.started":
        gate = " behind a health gate" if event.get("health_gate") else ""
        return f"[blue]deploy[/] of release {release} to {_names(event.get('services'))}{gate}"
    if kind == "deploy.replaced":
        how = "serving" if event.get("serving") else f"not serving: {_literal(event.get('detail'))}"
        rollback = " (the gate's rollback)" if event.get("rollback") else ""
        return (f"[blue]deploy[/] {_literal(event.get('service'))} on release {release}{rollback}, was "
                f"{_literal(event.get('previous'))}: {how}")
    if kind == "deploy.halted":
        return (f"[bold red]deploy halted[/] at {_literal(event.get('service'))}: {_literal(event.get('detail'))}; "
                f"not deployed: {_names(event.get('not_deployed')) or 'none'}")
    ends = [f"{label}: {_names(event.get(key))}" for key, label in (
        ("serving", "serving"), ("not_serving", "not serving"), ("rolled_back", "rolled back"),
        ("not_deployed", "not deployed")) if event.get(key)]
    return f"[blue]deploy done[/], release {release}: {'; '.join(ends) or 'nothing deployed'}"


def _names(value: object) -> str:
    """A list of service names from the recording, as markup (whatever a broken recording holds instead)."""
    if isinstance(value, list):
        return _literal(", ".join(str(item) for item in value))
    return _literal(value) if value is not None else ""


def _literal(value: object) -> str:
    """A value from the recording as markup that prints it as written."""
    return escape(str(value))


def _status(bins: dict[str, Any], second: int) -> str:
    window = range(max(0, second - STATUS_WINDOW_S), second)
    ok = sum(bins["ok"][s] for s in window)
    failed = sum(bins["failed"][s] for s in window)
    total = ok + failed
    rate = failed / total if total else 0.0
    p95 = bins["p95"][second - 1]
    p95_text = "-" if p95 != p95 else f"{p95:.2f} s"  # NaN: no request that second
    colour = "red" if rate > 0.05 else "green"
    return (f"[dim]t={second:4d}s[/] [{colour}]{total / len(window):5.1f} req/s  errors {rate:4.0%}[/]  "
            f"p95 {p95_text}")


def replay(events: list[Event], speed: float, console: Console, clock: Clock,
           stop: threading.Event | None = None) -> float:
    """Print the replay paced at `speed` times the recording. Returns the recording time reached."""
    stop = stop or threading.Event()
    reached = 0.0
    for line in replay_lines(events):
        if not clock.wait_until(line.t / speed, stop):
            break
        reached = line.t
        console.print(f"[bold]{line.t:7.1f}s[/] {line.text}", highlight=False)
    return reached
