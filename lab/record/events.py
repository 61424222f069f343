"""The run's single timeline: every event, appended to events.jsonl and flushed as it happens.

A crash leaves a usable recording: each line is a complete JSON object. Subscribers (console, alert evaluator)
are observers: a failing one is reported once and the recording goes on.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Annotated, Any, TextIO, get_args, get_origin, get_type_hints

from lab.clock import Clock
from lab.errors import InvalidInput
from lab.record import drill_schema  # noqa: F401 - a drill's kinds join the registry a reader checks against
from lab.record.schema import KINDS, WALL, EventBody
from lab.record.shapes import Shape

Event = dict[str, Any]
Subscriber = Callable[[Event], None]


class EventLog:
    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        self._lock = threading.Lock()
        self._file: TextIO = path.open("a", encoding="utf-8")
        self._subscribers: list[Subscriber] = []
        self._failed_subscribers: set[int] = set()
        self.count = 0

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def emit(self, body: EventBody, t: float | None = None) -> Event:
        """Record one event at offset `t` (now if not given): its time, wall time and kind, then its own fields."""
        offset = self.clock.now() if t is None else t
        event: Event = {"t": round(offset, 4), "wall": self.clock.wall().isoformat(timespec="milliseconds"),
                        "kind": body.kind, **body.fields()}
        line = json.dumps(event, default=str)
        with self._lock:
            if not self._file.closed:
                self._file.write(line + "\n")
                self._file.flush()
                self.count += 1
        for subscriber in self._subscribers:
            self._notify(subscriber, event)
        return event

    def _notify(self, subscriber: Subscriber, event: Event) -> None:
        try:
            subscriber(event)
        except Exception as exc:
            if id(subscriber) not in self._failed_subscribers:
                self._failed_subscribers.add(id(subscriber))
                print(f"lab: warning: event observer {subscriber!r} failed: {exc!r}", file=sys.stderr)

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_events(path: Path) -> list[Event]:
    """Events of a recording, one per line, in order. A last line cut short by a crash (no line end, and not JSON)
    is skipped; any other line that is not an event is invalid input naming the file and line: a line dropped
    silently would change the verdict, and a "t" that is not a time, or a field of the wrong type for its kind
    (lab.record.schema), would crash or stall every reader."""
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from exc
    ended = len(lines) - 1  # lines with their line end; what follows the last one is empty, or a line cut short
    events: list[Event] = []
    for number, line in enumerate(lines, 1):
        try:
            events.append(_event(line))
        except _CutShort as problem:
            if number <= ended:
                raise InvalidInput(f"{path}, line {number}: {problem}") from problem
        except ValueError as problem:
            raise InvalidInput(f"{path}, line {number}: {problem}") from problem
    return events


JSON_TYPES = {list: "an array", str: "a string", bool: "true or false", type(None): "null"}


class _CutShort(ValueError):
    """What a line cut mid-write looks like (it is not JSON): excused on the last line only, if it has no end."""


def _event(line: bytes) -> Event:
    try:
        event = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _CutShort("not UTF-8 text") from exc
    except (ValueError, RecursionError) as exc:  # not JSON; an integer too long to convert; nested too deep
        raise _CutShort("not JSON" if line.strip() else "an empty line") from exc
    if not isinstance(event, dict):
        raise ValueError(f"not an event: {JSON_TYPES.get(type(event), 'a number')}, not a JSON object")
    if "t" not in event:
        raise ValueError('no "t" (its time, in seconds since the run started)')
    t = event["t"]
    if isinstance(t, bool) or not isinstance(t, int | float) or not 0 <= t < math.inf:
        raise ValueError(f'"t" must be a finite number of seconds from 0, got {json.dumps(t)[:40]}')
    if not isinstance(event.get("kind"), str):
        raise ValueError(f'"kind" must be a string, got {json.dumps(event.get("kind"))[:40]}')
    wrong = problem(event)
    if wrong is not None:
        raise ValueError(wrong)
    return event


@cache
def checked_fields(kind: str) -> tuple[tuple[str, Shape, bool], ...]:
    """(name, shape, needed) of each field of `kind` a reader takes apart; the wall time for every kind."""
    checked = [("wall", WALL, True)]
    declared = KINDS.get(kind)
    if declared is None:
        return tuple(checked)
    hints = get_type_hints(declared, include_extras=True)
    for field in dataclasses.fields(declared):
        shape = next((meta for meta in get_args(hints[field.name])[1:] if isinstance(meta, Shape)), None) \
            if get_origin(hints[field.name]) is Annotated else None
        if shape is not None:
            needed = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
            checked.append((field.name, shape, needed))
    return tuple(checked)


def problem(event: dict[str, Any]) -> str | None:
    """What is wrong with the fields of `event` (its "t" and "kind" already checked), or None."""
    kind = event["kind"]
    for name, shape, needed in checked_fields(kind):
        if name not in event:
            if needed:
                return f'{_an(kind)} "{kind}" event has no "{name}" ({shape.wanted})'
        elif not shape.accepts(event[name]):
            return f'"{name}" of {_an(kind)} "{kind}" event must be {shape.wanted}, got {json.dumps(event[name])[:40]}'
    return None


def _an(word: str) -> str:
    return "an" if word[:1] in tuple("aeiou") else "a"
