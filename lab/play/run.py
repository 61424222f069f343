"""`lab run`: a scenario played on its timeline, end to end, then judged. The play session (lab.play.session) does
what every play does; this driver plays the steps at their offsets (lab.play.timeline) with the run's console, and
concludes by judging the recording and writing its reports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from lab.errors import EXIT_CHECK_FAILED, EXIT_OK, EXIT_UNRELIABLE
from lab.faults.base import FaultSpec
from lab.judge.verdict import Judgement, judge_run
from lab.play.console import ConsoleProgress, summary_table
from lab.play.session import Ending, Play, View, play_scenario
from lab.play.timeline import Runner
from lab.record import loadgen
from lab.record.run_dir import new_run_dir, scenario_subject
from lab.report import build as reports
from lab.scenario.document import Scenario
from lab.settings import Settings
from lab.stack import readiness


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    summary: dict[str, Any]
    exit_code: int


class TimelineDriver:
    mode = "run"

    def __init__(self, console: Console) -> None:
        self.console = console
        self.judgement: Judgement | None = None

    def check(self, settings: Settings) -> None:
        """A run needs nothing more than every play does."""

    def warm_up(self) -> None:
        """Imports the readiness probes, the traffic generator and the reports need (matplotlib's fonts too): about a
        second and a half of work done while the stack starts and this process mostly waits for Compose, instead of
        before the first request and after the last."""
        readiness.warm_up()  # first: the stack's readiness is probed as soon as Compose has started it
        loadgen.warm_up()
        reports.warm_up()

    def latest_end_s(self, scenario: Scenario, spec: FaultSpec) -> float:
        """From the fault's apply to the latest end of the run: every step after it taking as long as it may, the
        tail after the last (the runner's end)."""
        # A fault the timeline does not plan (a deploy a trainee makes) may begin at its start.
        start, _ = scenario.planned_fault_windows().get(spec.id, (0.0, 0.0))
        return scenario.duration_s - scenario.offset_s(start) + scenario.overrun_s(start)

    def views(self, play: Play) -> list[View]:
        progress = ConsoleProgress(self.console, play.recorder.clock)
        play.recorder.log.subscribe(progress)
        return [progress]

    def play(self, play: Play) -> Ending:
        stage = play.stage
        Runner(play.scenario, play.recorder.clock, play.recorder.log, lambda step: step.perform(stage), play.stop,
               prepare=lambda step, seconds_until_due: step.prepare(stage, seconds_until_due)).run()
        return Ending(partial=False, reason="completed")

    def conclude(self, run_dir: Path) -> None:
        """Judge the recording (a failed or interrupted run is judged as a partial one) and write its reports."""
        self.judgement = judge_run(run_dir)
        self.judgement.write()
        reports.make_reports(self.judgement)
        self.console.print(summary_table(self.judgement.summary))
        self.console.print(f"lab: recording in {run_dir}", markup=False, highlight=False)


def run_scenario(scenario: Scenario, settings: Settings, console: Console, out_dir: Path | None = None,
                 seed: int = 0) -> RunResult:
    """Play, record and judge `scenario` (shaped already: lab.scenario.shaping). Raises Interrupted after cleanup
    on SIGINT/SIGTERM, or the error that stopped the run, once its recording is judged."""
    run_dir = out_dir or new_run_dir(settings.runs_dir, scenario_subject(
        scenario.name, scenario.variant.name if scenario.variant else None))
    driver = TimelineDriver(console)
    outcome = play_scenario(scenario, settings, run_dir, console, driver, seed)
    outcome.raise_if_stopped()
    assert driver.judgement is not None  # concluded: the play raised above otherwise
    verdict = driver.judgement.verdict
    code = {"pass": EXIT_OK, "unreliable": EXIT_UNRELIABLE}.get(verdict, EXIT_CHECK_FAILED)
    return RunResult(run_dir=run_dir, summary=driver.judgement.summary, exit_code=code)



