"""`lab drill` end to end: stack up, the session, cleanup whatever happens, then the debrief."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from rich.console import Console

from lab.drill.control import check_socket_path, pointer_path, read_active, send
from lab.drill.debrief import Debrief, debrief, render_markdown
from lab.drill.trainee import DrillOptions, DrillSession
from lab.errors import InvalidInput, LabError, NothingRunning
from lab.judge import outputs
from lab.play.preflight import preflight
from lab.play.signals import run_guarded
from lab.record.events import read_events
from lab.scenario.document import Scenario
from lab.settings import Settings
from lab.stack.commands import Engine, ensure_images
from lab.stack.owners import owner_token


def ensure_no_active_drill(runs_dir: Path) -> None:
    try:
        active = read_active(runs_dir)
    except NothingRunning:
        return
    try:
        send(runs_dir, {"op": "info"})
    except NothingRunning:
        pointer_path(runs_dir).unlink(missing_ok=True)  # left by a drill that was killed
        return
    raise InvalidInput(f"a drill is already running ({active.run_dir}): one at a time per runs folder")


def run_drill(scenario: Scenario, settings: Settings, options: DrillOptions, console: Console) -> Debrief:
    if not scenario.faults:
        raise InvalidInput(f"scenario {scenario.name} has no fault to drill on")
    preflight(scenario)
    run_dir = options.out_dir or outputs.new_run_dir(
        settings.runs_dir, f"drill-{'random' if options.hidden else scenario.name}")
    outputs.check_run_dir(run_dir)  # a bad --out is invalid input (exit 2), said before Docker is asked anything
    check_socket_path()
    engine = Engine.connect(settings).with_compose()
    settings.runs_dir.mkdir(parents=True, exist_ok=True)
    ensure_no_active_drill(settings.runs_dir)
    outputs.prepare_run_dir(run_dir)
    outputs.write_scenario(run_dir, scenario, 1.0)

    def play() -> None:
        lab_images = ensure_images(
            engine, lambda message: console.print(f"lab: {message}", markup=False, highlight=False))
        with engine.stack(images=lab_images, owner=owner_token(), knobs=scenario.knobs,
                          spec=scenario.stack_spec) as stack:
            console.print(f"lab: drill {stack.run_id}: the stack is up and users are arriving. You are on call.",
                          highlight=False)
            DrillSession(scenario, stack, lab_images.tools, run_dir, settings.runs_dir, options, console).run()

    outcome = run_guarded(play)
    result = _debrief_recording(run_dir, scenario, console)  # what was recorded is debriefed whatever happened
    outcome.raise_if_stopped()
    if result is None:
        raise LabError(f"the drill ended before its recording began ({run_dir})")
    return result


def _debrief_recording(run_dir: Path, scenario: Scenario, console: Console) -> Debrief | None:
    """Debrief what was recorded (None if the drill failed before recording began), show it and keep it."""
    events_path = run_dir / "events.jsonl"
    if not events_path.exists():
        return None
    result = debrief(read_events(events_path), scenario)
    (run_dir / "debrief.md").write_text(render_markdown(result, scenario))
    (run_dir / "debrief.json").write_text(json.dumps(asdict(result), indent=2) + "\n")
    console.print(render_markdown(result, scenario), markup=False, highlight=False)
    console.print(f"lab: drill recording and debrief in {run_dir}", markup=False, highlight=False)
    return result
