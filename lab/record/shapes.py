"""The shapes of JSON values the readers of a recording rely on (a finite number of seconds, a share from 0 to 1, a
string...): what an event's field is checked against where events.jsonl is read, and what the one-line error says
it must be."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeGuard


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
ATTEMPT = Shape("a whole number from 1", lambda value: _whole(value) and value >= 1)
TEXTS = Shape("an array of strings", lambda value: isinstance(value, list) and all(isinstance(v, str) for v in value))
ARRAY = Shape("an array", lambda value: isinstance(value, list))  # of order ids: a declared workload's may be strings
TIME = Shape("an ISO 8601 time from the year 1970 to 9000", _time)
