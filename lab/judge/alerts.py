"""The alerts of a recording as spans: when each named alert began firing and when it resolved, whichever evaluated
it (the lab's own rules over the users' requests, or Prometheus's over the stack's metrics). Pure: events in, spans
out."""

from __future__ import annotations

from dataclasses import dataclass

from lab.record.events import Event


@dataclass(frozen=True)
class AlertSpan:
    name: str
    source: str
    """"lab" (scenario `alerts:`) or "prometheus" (a rule file of the scenario's `observe.rules`)."""
    fired_t: float
    resolved_t: float | None
    """None: still firing when the recording ends."""


def alert_spans(events: list[Event]) -> list[AlertSpan]:
    """Every firing of every alert, in the order they fired. A resolution closes the open span of its name and
    source; one without an open span (the recording began while it fired) is left out."""
    spans: list[AlertSpan] = []
    open_at: dict[tuple[str, str], int] = {}
    for event in sorted((e for e in events if e.get("kind") in ("alert.fired", "alert.resolved")),
                        key=lambda e: float(e["t"])):
        key = (str(event.get("alert")), str(event.get("source", "lab")))
        if event["kind"] == "alert.fired":
            if key not in open_at:
                open_at[key] = len(spans)
                spans.append(AlertSpan(key[0], key[1], float(event["t"]), None))
        elif key in open_at:
            index = open_at.pop(key)
            fired = spans[index]
            spans[index] = AlertSpan(fired.name, fired.source, fired.fired_t, float(event["t"]))
    return spans


def first_fired(spans: list[AlertSpan], name: str, since_t: float) -> AlertSpan | None:
    """The first firing of the alert `name` that began at or after `since_t` (the fault)."""
    return next((span for span in spans if span.name == name and span.fired_t >= since_t), None)
