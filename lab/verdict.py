"""Judging a recording: analysis + the scenario's checks → summary.json and junit.xml. Works on any run
directory, from the files alone, so a recording cut short by a crash is judged (as partial) just the same."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from lab import checks, outputs
from lab.errors import InvalidInput
from lab.events import Event, read_events
from lab.scenario import Scenario, load
from lab.timeline import RecoveryCriteria, analyse

END_MARGIN_S = 600.0
"""How long a run may go on after its timeline's latest end, reverting and verifying writes (generously: an event
later than that is not the run's, but a broken "t" that would make a report draw, and a replay play, for ever)."""


def load_run(run_dir: Path, just_recorded: bool = False) -> tuple[Scenario, list[Event]]:
    """The scenario as it was run (with the variant the recording names) and the recorded events of a run
    directory. Whatever in them cannot be the run's is invalid input naming the file (and line). The times of the
    events are bounded by how long the run could have lasted (`latest_t`), unless the run that recorded them reads
    them back (`just_recorded`): a bound is for recordings from elsewhere, and must never refuse a run its own."""
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
    latest = math.inf if just_recorded else latest_t(scenario, started, events)
    late = next((n for n, e in enumerate(events, 1) if e["t"] > latest), None)
    if late is not None:
        raise InvalidInput(f'{events_path}, line {late}: "t" {events[late - 1]["t"]} is later than the run could '
                           f"have lasted (at most {latest:.0f} s)")
    return scenario, events


def _run_started(events_path: Path, events: list[Event]) -> tuple[int, Event]:
    """The run.started event and its line (0 and {} if there is none): what judging takes from it checked."""
    number, started = next(((n, e) for n, e in enumerate(events, 1) if e["kind"] == "run.started"), (0, {}))
    variant, speed, planned = started.get("variant"), started.get("speed", 1.0), started.get("planned_duration_s")
    if variant is not None and not isinstance(variant, str):
        raise InvalidInput(f'{events_path}, line {number}: "variant" must be a name, got {json.dumps(variant)}')
    if not _number(speed) or not speed > 0:
        raise InvalidInput(f'{events_path}, line {number}: "speed" must be a positive number, got {json.dumps(speed)}')
    if planned is not None and not _number(planned):
        raise InvalidInput(f'{events_path}, line {number}: "planned_duration_s" must be a number of seconds, '
                           f"got {json.dumps(planned)}")
    return number, started


def _number(value: Any) -> bool:
    """A finite JSON number, 0 or more."""
    return not isinstance(value, bool) and isinstance(value, int | float) and 0 <= value < math.inf


def latest_t(scenario: Scenario, started: Event, events: list[Event]) -> float:
    """The latest an event of the run (or drill) of `scenario` that `started` began can be at: its planned end,
    every step taking as long as it may, the end's margin and any wait for the engine (LAB_ENGINE_WAIT_S: the run
    records it). It bounds what a report draws and a replay plays."""
    planned = started.get("planned_duration_s") or 0.0
    waited = max((e["timeout_s"] for e in events if e["kind"] == "engine.waiting" and _number(e.get("timeout_s"))),
                 default=0.0)
    if started.get("mode") == "drill":  # its own planned end, or for a drill recorded without one, its scenario's
        drill = scenario.drill
        return max(planned, max(drill.inject_after_s) + drill.max_duration_s) + END_MARGIN_S + waited
    return max(planned, scenario.duration_s) + scenario.overrun_s() + END_MARGIN_S + waited


def recovery_criteria(scenario: Scenario) -> RecoveryCriteria:
    rule = scenario.checks.recovery_criteria()
    return RecoveryCriteria(rule.window_s, rule.max_error_rate, rule.max_latency_s)


def judge(run_dir: Path, scenario: Scenario | None = None) -> dict[str, Any]:
    """Judge the recording by `scenario`, the one just run; None re-judges it from its files alone, as it ran.
    Re-judged, summary.json and junit.xml are only a cache of what the files say: a run directory that cannot be
    written (a CI recording downloaded read-only) is judged all the same, without them."""
    loaded, events = load_run(run_dir, just_recorded=scenario is not None)
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
