"""Judging a recording: analysis + the scenario's checks → summary.json and junit.xml. Works on any run
directory, from the files alone, so a recording cut short by a crash is judged (as partial) just the same."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from lab.errors import InvalidInput
from lab.judge import checks, outputs
from lab.judge.analysis import RecoveryCriteria, analyse
from lab.record.events import Event, read_events
from lab.scenario.document import Scenario, load

LONGEST_RECORDING_S = 7 * 24 * 60 * 60
"""Later than any event of a recording the lab makes (a run lasts at most a day at its speed, a drill at most a day,
and every runbook step's timeout after that adds less than the rest of the week): a "t" beyond it is broken, and
would make a report draw, and a replay play, for days. Fixed, not taken from the scenario: a bound estimated from
the steps could refuse a run's own recording that a slow step made longer."""


def load_run(run_dir: Path) -> tuple[Scenario, list[Event]]:
    """The scenario as it was run (with the variant the recording names) and the recorded events of a run
    directory. Whatever in them cannot be the run's is invalid input naming the file (and line)."""
    scenario_path, events_path = run_dir / "scenario.yaml", run_dir / "events.jsonl"
    if not scenario_path.is_file():
        raise InvalidInput(f"{run_dir} is not a run directory (no scenario.yaml)")
    scenario = load(scenario_path, check_stack=False)
    events = read_events(events_path) if events_path.exists() else []  # none: killed before the recording began
    number, started = _run_started(events_path, events)
    if started.get("variant") is not None:
        try:
            scenario = scenario.with_variant(started["variant"])
        except InvalidInput as exc:
            raise InvalidInput(f"{events_path}, line {number}: the run's variant is not in {scenario_path}: "
                               f"{exc}") from exc
    late = next((n for n, e in enumerate(events, 1) if e["t"] > LONGEST_RECORDING_S), None)
    if late is not None:
        raise InvalidInput(f'{events_path}, line {late}: "t" {events[late - 1]["t"]} is later than any recording '
                           f"lasts (at most {LONGEST_RECORDING_S} s, a week)")
    return scenario, events


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


def recovery_criteria(scenario: Scenario) -> RecoveryCriteria:
    rule = scenario.checks.recovery_criteria()
    return RecoveryCriteria(rule.window_s, rule.max_error_rate, rule.max_latency_s)


def judge(run_dir: Path, scenario: Scenario | None = None,
          recording: tuple[Scenario, list[Event]] | None = None) -> dict[str, Any]:
    """Judge the recording by `scenario`, the one just run; None re-judges it from its files alone, as it ran.
    Re-judged, summary.json and junit.xml are only a cache of what the files say: a run directory that cannot be
    written (a CI recording downloaded read-only) is judged all the same, without them. `recording`: what
    `load_run` read of it, for a caller that has read it already."""
    loaded, events = recording or load_run(run_dir)
    judged_by = scenario or loaded
    started = next((e for e in events if e["kind"] == "run.started"), {})
    analysis = analyse(events, recovery_criteria(judged_by))
    results = checks.evaluate(analysis, judged_by.checks, judged_by.traffic.max_lateness_p99_s)
    summary = outputs.summary_document(str(started.get("run_id", "")), judged_by, float(started.get("speed", 1.0)),
                                       analysis, results)
    try:
        outputs.write_summary(run_dir, summary)
        outputs.write_junit(run_dir, judged_by.name, results, analysis.ended_reason if analysis.partial else None)
    except OSError:
        if scenario is not None:  # the run just recorded: its files must be there
            raise
    return summary
