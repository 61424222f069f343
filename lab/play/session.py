"""One play of a scenario on a fresh stack, for `lab run` and `lab drill` alike (a game day's drills are `lab drill`
processes): what it checks before anything starts, the run directory with the scenario kept beside the recording,
the engine and the lab's images, the stack with its reaper, the recorder, the faults and their watch, the stage the
steps are performed on, what people look at, and one ordered teardown whatever ends the play (completed, failed,
interrupted, the engine gone). The stack is removed while the driver concludes (judging, reports, a debrief).

A driver says what happens in between: the scenario's timeline played on its clock (lab.play.run), or a trainee
at the controls (lab.drill.trainee)."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rich.console import Console

from lab.errors import EngineLost, LabError, StackError
from lab.faults.base import FaultSpec
from lab.faults.target import StackTarget
from lab.play.fault_set import FaultSet
from lab.play.preflight import preflight
from lab.play.runbook import RunbookRunner
from lab.play.stage import Stage
from lab.play.timeline import RunStopped
from lab.record.recorder import Recorder
from lab.record.run_dir import check_run_dir, prepare_run_dir, write_scenario
from lab.scenario.document import Scenario
from lab.scenario.rule_files import rule_files
from lab.settings import Settings
from lab.signals import GuardedOutcome, SignalGuard, run_guarded
from lab.stack import alert_rules, observability
from lab.stack.docker_api import ENGINE_ERRORS, engine_failed
from lab.stack.engine import Engine
from lab.stack.owners import owner_token
from lab.stack.project import Stack


@dataclass(frozen=True)
class Ending:
    """How the recording ends: run.ended's `partial` and `reason`."""

    partial: bool
    reason: str


class View(Protocol):
    """Something people look at while the play goes (a console, a dashboard, a control socket): started in order once
    the recorder runs, stopped in the reverse order once the faults are reverted."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class Play:
    """What a driver plays with."""

    scenario: Scenario
    stack: Stack
    run_dir: Path
    recorder: Recorder
    stage: Stage
    stop: threading.Event
    """Set when the play must stop: the engine went away, or the driver's own reasons (a trainee gave up)."""
    console: Console
    tools_image: str


class Driver(Protocol):
    mode: str
    """What plays, as run.started records it: "run" or "drill"."""

    def check(self, settings: Settings) -> None:
        """What the driver needs before anything starts (InvalidInput, said in one line)."""

    def warm_up(self) -> None:
        """Work to do ahead while the stack starts (imports the end needs)."""

    def latest_end_s(self, scenario: Scenario, spec: FaultSpec) -> float:
        """How long after the fault's apply the play may last at the latest (the faults' time-to-live follows)."""

    def views(self, play: Play) -> list[View]: ...

    def play(self, play: Play) -> Ending:
        """Everything between the recorder's start and the teardown. RunStopped if stopped while waiting."""

    def conclude(self, run_dir: Path) -> None:
        """What is made of the recording once it is closed (the stack going meanwhile): never interrupted."""


def play_scenario(scenario: Scenario, settings: Settings, run_dir: Path, console: Console, driver: Driver,
                  seed: int = 0) -> GuardedOutcome:
    """Play `scenario` with `driver`; returns how the play ended once everything is cleaned up and concluded (a
    signal or an error is reported by the caller, after what was recorded has been shown)."""
    preflight(scenario, settings.script_dirs)
    check_run_dir(run_dir)  # a bad --out is invalid input (exit 2), said before Docker is asked anything
    driver.check(settings)
    engine = Engine.connect(settings).with_compose()  # before anything is written: no Docker or Compose, no run dir
    for run_id in engine.reaped:
        _say(console, f"removed the leftovers of run {run_id} (its lab process is gone)")
    prepare_run_dir(run_dir)
    write_scenario(run_dir, scenario)
    removal = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stack-removal")
    removing: list[Future[None]] = []
    warmed = threading.Thread(target=driver.warm_up, name="warm-up", daemon=True)

    def body() -> None:
        lab_images = engine.images(lambda message: _say(console, message))
        stack = engine.stack(images=lab_images, owner=owner_token(), knobs=scenario.knobs, spec=scenario.stack_spec,
                             observe=scenario.observe is not None)
        rules = _rule_sources(scenario)
        if rules:  # before anything of the run's starts: a rule Prometheus rejects is invalid input
            alert_rules.check(engine.client, lab_images.observe, stack.run_id, rules)
        _say(console, f"{driver.mode} {stack.run_id}: starting the stack")
        warmed.start()  # while the stack starts: not while requests are timed
        stack.start()  # removes what it started if it fails
        try:
            if rules:
                _load_rules(stack, rules)
            warmed.join()
            _record(scenario, stack, lab_images.tools, run_dir, driver, console, seed)
        finally:  # the recording is closed: the stack goes while the driver concludes (its reaper stays until then)
            removing.append(removal.submit(stack.down))

    outcome = run_guarded(body)
    with SignalGuard(interrupt=False):  # nothing may cut the stack's removal short
        try:
            if warmed.ident is not None:
                warmed.join()  # what it imports is not to be imported from two threads at once
            driver.conclude(run_dir)
        finally:
            removal.shutdown(wait=True)
            for removed in removing:
                outcome.add(removed.exception())
    return outcome


def _rule_sources(scenario: Scenario) -> list[alert_rules.RuleSource]:
    """The scenario's Prometheus rule files (preflight has read them without a problem)."""
    if scenario.observe is None:
        return []
    files, _ = rule_files(scenario.observe, scenario.base_dir)
    return [alert_rules.RuleSource(file.path, tuple(file.alerts)) for file in files]


def _load_rules(stack: Stack, rules: list[alert_rules.RuleSource]) -> None:
    urls = observability.urls(stack.containers())
    if urls is None:
        raise StackError("the stack has no Prometheus to load the scenario's rules into")
    alert_rules.load(stack.container(observability.PROMETHEUS), stack.run_id, urls, rules)


def _record(scenario: Scenario, stack: Stack, tools_image: str, run_dir: Path, driver: Driver, console: Console,
            seed: int) -> None:
    stop = threading.Event()
    recorder = Recorder(scenario, stack, run_dir, seed=seed, stop_on_engine_loss=stop, mode=driver.mode)
    faults = FaultSet(scenario.faults, StackTarget(stack, tools_image), recorder.log, recorder.clock,
                      lambda spec: driver.latest_end_s(scenario, spec))
    stage = Stage(stack, faults, RunbookRunner(stack, tools_image, scenario.base_dir), recorder.log, recorder.users,
                  scenario.time)
    play = Play(scenario, stack, run_dir, recorder, stage, stop, console, tools_image)
    views = driver.views(play)
    ending = Ending(partial=True, reason="interrupted")
    try:
        try:
            recorder.start()
            for view in views:
                view.start()
            faults.watch.start()
            ending = driver.play(play)
        except RunStopped:  # stopped while waiting: only the engine's loss does that
            ending = _engine_lost(recorder)
        except (LabError, *ENGINE_ERRORS) as exc:  # a step's own error, unless the engine's shutdown caused it
            if not recorder.engine_stopped_under_step():
                if isinstance(exc, LabError):
                    raise
                raise engine_failed(exc) from exc
            ending = _engine_lost(recorder)
    except LabError as exc:
        ending = Ending(partial=True, reason=f"aborted: {exc}")
        raise
    finally:
        stop.set()
        _tear_down(recorder, faults, views, ending)
    if recorder.engine_loss.reason is not None:
        raise EngineLost(recorder.engine_loss.reason)


def _engine_lost(recorder: Recorder) -> Ending:
    return Ending(partial=True, reason=f"aborted: {recorder.engine_loss.reason}")


def _tear_down(recorder: Recorder, faults: FaultSet, views: list[View], ending: Ending) -> None:
    """The one ordered teardown: stop watching the faults, wait a bounded time for a lost Docker engine to come back,
    revert every fault still in place (recorded as cleanup), stop what people look at, then stop traffic, verify the
    acknowledged writes and close the recording. Never raises for a fault it cannot revert: each problem is recorded
    and listed in run.ended. The stack itself goes afterwards, or with its reaper if this process dies first."""
    faults.watch.stop()
    recorder.await_engine()
    revert_problems = faults.revert_all()
    for view in reversed(views):
        view.stop()
    recorder.finish(ending.partial, ending.reason, revert_problems=revert_problems)


def _say(console: Console, message: str) -> None:
    console.print(f"lab: {message}", markup=False, highlight=False)
