"""Reading a run directory: the one reader of a recording (the judging, the reports, the replay, the debrief all take
what it read). Works from the files alone, so a recording cut short by a crash is read (as partial) just the same,
and what cannot be the run's is one line naming the file and line."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import InvalidInput
from lab.record.events import Event, read_events
from lab.scenario.document import Scenario
from lab.scenario.reader import load
from lab.scenario.shaping import with_variant

LONGEST_RECORDING_S = 7 * 24 * 60 * 60
"""Later than any event of a recording the lab makes (a run lasts at most a day at its speed, a drill at most a day,
and every runbook step's timeout after that adds less than the rest of the week): a "t" beyond it is broken, and
would make a report draw, and a replay play, for days. Fixed, not taken from the scenario: a bound estimated from
the steps could refuse a run's own recording that a slow step made longer."""


@dataclass(frozen=True)
class Recording:
    """A run directory as recorded: the scenario as it was played (with the variant the recording names) and its
    events."""

    run_dir: Path
    scenario: Scenario
    events: list[Event]

    @property
    def started(self) -> Event:
        """Its run.started event ({} if it has none: killed before its recording began)."""
        return next((e for e in self.events if e["kind"] == "run.started"), {})


def read_recording(run_dir: Path) -> Recording:
    """The recording of a run directory. Whatever in it cannot be the run's is invalid input naming the file (and
    line)."""
    scenario_path, events_path = run_dir / "scenario.yaml", run_dir / "events.jsonl"
    if not scenario_path.is_file():
        raise InvalidInput(f"{run_dir} is not a run directory (no scenario.yaml)")
    scenario = load(scenario_path, check_stack=False)
    events = read_events(events_path) if events_path.exists() else []  # none: killed before the recording began
    number, started = _run_started(events_path, events)
    if started.get("variant") is not None:
        try:
            scenario = with_variant(scenario, started["variant"])
        except InvalidInput as exc:
            raise InvalidInput(f"{events_path}, line {number}: the run's variant is not in {scenario_path}: "
                               f"{exc}") from exc
    late = next((n for n, e in enumerate(events, 1) if e["t"] > LONGEST_RECORDING_S), None)
    if late is not None:
        raise InvalidInput(f'{events_path}, line {late}: "t" {events[late - 1]["t"]} is later than any recording '
                           f"lasts (at most {LONGEST_RECORDING_S} s, a week)")
    return Recording(run_dir, scenario, events)


def _run_started(events_path: Path, events: list[Event]) -> tuple[int, Event]:
    """The run.started event and its line (0 and {} if there is none): what judging takes from it checked."""
    number, started = next(((n, e) for n, e in enumerate(events, 1) if e["kind"] == "run.started"), (0, {}))
    variant, speed = started.get("variant"), started.get("speed", 1.0)
    if variant is not None and not isinstance(variant, str):
        raise InvalidInput(f'{events_path}, line {number}: "variant" must be a name, got {json.dumps(variant)}')
    if not _number(speed) or not speed > 0:
        raise InvalidInput(f'{events_path}, line {number}: "speed" must be a positive number, got {json.dumps(speed)}')
    return number, started


def _number(value: Any) -> bool:
    """A finite JSON number, 0 or more."""
    return not isinstance(value, bool) and isinstance(value, int | float) and 0 <= value < math.inf
