"""`lab drill` end to end: the scenario played with a trainee at the controls (lab.drill.trainee) by the play
session every play goes through, then the debrief."""

from __future__ import annotations

from rich.console import Console

from lab.drill.debrief import Debrief
from lab.drill.trainee import DrillOptions, TraineeDriver
from lab.errors import LabError
from lab.play.session import play_scenario
from lab.record.run_dir import new_run_dir
from lab.scenario.document import Scenario
from lab.settings import Settings


def run_drill(scenario: Scenario, settings: Settings, options: DrillOptions, console: Console) -> Debrief:
    driver = TraineeDriver(scenario, settings, options, console)
    run_dir = options.out_dir or new_run_dir(settings.runs_dir,
                                             f"drill-{'random' if options.hidden else scenario.name}")
    outcome = play_scenario(scenario, settings, run_dir, console, driver, options.seed)
    outcome.raise_if_stopped()
    if driver.result is None:
        raise LabError(f"the drill ended before its recording began ({run_dir})")
    return driver.result
