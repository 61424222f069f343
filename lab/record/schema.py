"""What the readers of a recording rely on in each kind of event, checked where events.jsonl is read.

A field of the wrong type (a latency that is a word, an "ok" that is the string "false", a replica that is a
number, a status that is an array) is its line's problem, said in one line naming the file and line: not a
TypeError deep in a report, a request silently counted as answered, or a run listed as one that "cannot be judged:
KeyError". Only what a reader takes apart is checked: a field only ever shown as text (a fault's target, a docker
event's service, a step's clock) is shown as it comes, and of the kinds no reader of a recording takes apart (the
drill's, which its debrief reads right after its own run wrote them) only the wall time every event has is checked."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeGuard


@dataclass(frozen=True)
class Shape:
    """A JSON value a reader relies on: `accepts` tells it; `wanted` says what it must be, in the error."""

    wanted: str
    accepts: Callable[[object], bool]

    def or_null(self) -> Shape:
        return Shape(f"{self.wanted} or null", lambda value: value is None or self.accepts(value))


def _number(value: object) -> TypeGuard[int | float]:
    """A finite JSON number (Python's json reads NaN and Infinity too; true and false are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _time(value: object) -> bool:
    """A wall time a reader can also step from (by a run's offsets: a year of 9999 overflows one)."""
    if not isinstance(value, str):
        return False
    try:
        return 1970 <= datetime.fromisoformat(value).year <= 9000
    except ValueError:
        return False


SECONDS = Shape("a finite number of seconds from 0", lambda value: _number(value) and value >= 0)
SIGNED_SECONDS = Shape("a finite number of seconds", _number)
RATE = Shape("a number from 0 to 1", lambda value: _number(value) and 0 <= value <= 1)
FLAG = Shape("true or false", lambda value: isinstance(value, bool))
TEXT = Shape("a string", lambda value: isinstance(value, str))
WHOLE = Shape("a whole number", _whole)
COUNT = Shape("a whole number from 0", lambda value: _whole(value) and value >= 0)
TEXTS = Shape("an array of strings", lambda value: isinstance(value, list) and all(isinstance(v, str) for v in value))
ARRAY = Shape("an array", lambda value: isinstance(value, list))  # of order ids: a declared workload's may be strings
TIME = Shape("an ISO 8601 time from the year 1970 to 9000", _time)

NEEDED, OPTIONAL = True, False
Fields = dict[str, tuple[Shape, bool]]

EVERY_EVENT: Fields = {"wall": (TIME, NEEDED)}
"""Milestones take their wall time from the event, or from the nearest event's."""
FIELDS: dict[str, Fields] = {
    "request": {"latency_s": (SECONDS, NEEDED), "ok": (FLAG, NEEDED), "replica": (TEXT.or_null(), OPTIONAL),
                "status": (WHOLE.or_null(), OPTIONAL), "error": (TEXT.or_null(), OPTIONAL),
                "endpoint": (TEXT, OPTIONAL), "started_t": (SECONDS.or_null(), OPTIONAL)},
    "step": {"index": (COUNT, NEEDED), "action": (TEXT, NEEDED), "planned_t": (SECONDS, NEEDED),
             "skew_s": (SIGNED_SECONDS, NEEDED), "took_s": (SECONDS, NEEDED), "ok": (FLAG, OPTIONAL),
             "milestone": (TEXT.or_null(), OPTIONAL), "fault": (TEXT.or_null(), OPTIONAL),
             "service": (TEXT.or_null(), OPTIONAL)},
    "alert.fired": {"alert": (TEXT, NEEDED), "error_rate": (RATE, NEEDED)},
    "alert.resolved": {"alert": (TEXT, NEEDED)},
    "app.db_error": {"replica": (TEXT.or_null(), NEEDED), "error_class": (TEXT.or_null(), NEEDED),
                     "message": (TEXT.or_null(), NEEDED), "during": (TEXT.or_null(), OPTIONAL)},
    "fault.cleanup": {"still_in_effect": (FLAG, OPTIONAL)},
    "writes.verified": {"acknowledged": (COUNT, NEEDED), "found": (COUNT, OPTIONAL), "missing": (ARRAY, OPTIONAL),
                        "error": (TEXT.or_null(), OPTIONAL)},
    "runbook.finished": {"index": (COUNT, NEEDED), "where": (TEXT, NEEDED), "service": (TEXT.or_null(), NEEDED),
                         "command": (TEXTS, NEEDED), "exit_code": (WHOLE.or_null(), NEEDED),
                         "duration_s": (SECONDS, NEEDED), "output": (TEXT, NEEDED)},
    "run.ended": {"partial": (FLAG, OPTIONAL)},
}
"""Per kind, the fields its readers take apart (the analysis, the checks, the reports), and whether every event of
the kind the lab writes has it."""


_CHECKED = {kind: EVERY_EVENT | fields for kind, fields in FIELDS.items()}


def problem(event: dict[str, Any]) -> str | None:
    """What is wrong with the fields of `event` (its "t" and "kind" already checked), or None."""
    kind = event["kind"]
    for name, (shape, needed) in _CHECKED.get(kind, EVERY_EVENT).items():
        if name not in event:
            if needed:
                return f'{_an(kind)} "{kind}" event has no "{name}" ({shape.wanted})'
        elif not shape.accepts(event[name]):
            return f'"{name}" of {_an(kind)} "{kind}" event must be {shape.wanted}, got {json.dumps(event[name])[:40]}'
    return None


def _an(word: str) -> str:
    return "an" if word[:1] in tuple("aeiou") else "a"
