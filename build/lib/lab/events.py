"""The run's single timeline: every event, appended to events.jsonl and flushed as it happens.

A crash leaves a usable recording: each line is a complete JSON object. Subscribers (console, alert evaluator)
are observers: a failing one is reported once and the recording goes on.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from lab.clock import Clock

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

    def emit(self, kind: str, t: float | None = None, **fields: Any) -> Event:
        """Record one event at offset `t` (now if not given). Field names "wall" and "kind" are the log's own."""
        if "wall" in fields:
            raise ValueError("'wall' is set by the event log")
        offset = self.clock.now() if t is None else t
        event: Event = {"t": round(offset, 4), "wall": self.clock.wall().isoformat(timespec="milliseconds"),
                        "kind": kind, **fields}
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
    """Events of a recording; a last line cut short by a crash is skipped."""
    return list(_iter_events(path))


def _iter_events(path: Path) -> Iterator[Event]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue
