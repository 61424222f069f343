"""Judging a recording: analysis + the scenario's checks → summary.json and junit.xml. Works on any run
directory, from the files alone, so a recording cut short by a crash is judged (as partial) just the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab import checks, outputs
from lab.errors import InvalidInput
from lab.events import Event, read_events
from lab.scenario import Scenario, parse
from lab.timeline import RecoveryCriteria, analyse


def load_run(run_dir: Path) -> tuple[Scenario, list[Event]]:
    """The scenario as it was run and the recorded events of a run directory."""
    scenario_path, events_path = run_dir / "scenario.yaml", run_dir / "events.jsonl"
    if not scenario_path.is_file():
        raise InvalidInput(f"{run_dir} is not a run directory (no scenario.yaml)")
    scenario = parse(scenario_path.read_text(), source=str(scenario_path), base_dir=run_dir, check_stack=False)
    events = read_events(events_path) if events_path.is_file() else []
    return scenario, events


def recovery_criteria(scenario: Scenario) -> RecoveryCriteria:
    rule = scenario.checks.recovery_criteria()
    return RecoveryCriteria(rule.window_s, rule.max_error_rate, rule.max_latency_s)


def judge(run_dir: Path, scenario: Scenario | None = None) -> dict[str, Any]:
    loaded, events = load_run(run_dir)
    started = next((e for e in events if e.get("kind") == "run.started"), {})
    if scenario is None:  # re-judging from the files: the variant it ran is in the recording
        scenario = loaded.with_variant(started["variant"]) if started.get("variant") else loaded
    analysis = analyse(events, recovery_criteria(scenario))
    results = checks.evaluate(analysis, scenario.checks, scenario.traffic.max_lateness_p99_s)
    summary = outputs.summary_document(str(started.get("run_id", "")), scenario, float(started.get("speed", 1.0)),
                                       analysis, results)
    outputs.write_summary(run_dir, summary)
    outputs.write_junit(run_dir, scenario.name, results, analysis.ended_reason if analysis.partial else None)
    return summary
