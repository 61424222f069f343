"""`lab run`: one scenario, end to end. Validate, build, bring the stack up, record traffic and engine events
while the runner plays the timeline, revert every fault, verify the writes, tear down, analyse, judge."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from lab.errors import EXIT_CHECK_FAILED, EXIT_OK, EXIT_UNRELIABLE, EngineLost, InvalidInput, LabError
from lab.faults import build_fault
from lab.faults.helper import StackTarget
from lab.judge import outputs
from lab.judge.verdict import judge, load_run
from lab.play.console import ConsoleProgress, summary_table
from lab.play.fault_watch import FaultWatch
from lab.play.performer import StepPerformer
from lab.play.preflight import preflight
from lab.play.runbook import RunbookRunner
from lab.play.signals import SignalGuard, run_guarded
from lab.play.teardown import tear_down
from lab.play.timeline import Runner, RunStopped
from lab.record import loadgen
from lab.record.recorder import Recorder
from lab.report import build as reports
from lab.scenario.document import MAX_RATE, Scenario
from lab.settings import Settings
from lab.stack import readiness
from lab.stack.commands import Engine, ensure_images
from lab.stack.engine import ENGINE_ERRORS, engine_failed
from lab.stack.owners import owner_token
from lab.stack.project import Stack

FAULT_TTL_MARGIN_S = 60.0
"""A fault outlives its run by at most this much should both the lab and its attachment vanish."""


@dataclass(frozen=True)
class RunOptions:
    speed: float = 1.0
    out_dir: Path | None = None
    rate: float | None = None
    seed: int = 0


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    summary: dict[str, Any]
    exit_code: int


def default_run_dir(settings: Settings, scenario: Scenario) -> Path:
    return outputs.new_run_dir(settings.runs_dir, outputs.scenario_subject(
        scenario.name, scenario.variant.name if scenario.variant else None))


def fault_ttl_s(scenario: Scenario, fault_id: str) -> float:
    """From the fault's apply to the latest end of the run, plus a margin: the time-to-live is the second line of
    defence (the dead-man switch is the first), and must not remove a fault a runbook failed to remove before the
    run's cleanup has seen it. The latest end: every runbook step and restart after the apply taking as long as it
    may (its timeout; a stop, then the wait until the service serves again), the tail after the last (the runner)."""
    spec = scenario.fault(fault_id)
    if spec.ttl_s is not None:
        return spec.ttl_s
    start, _ = scenario.fault_windows()[fault_id]
    return scenario.duration_s - scenario.offset_s(start) + scenario.overrun_s(start) + FAULT_TTL_MARGIN_S


def run_scenario(scenario: Scenario, settings: Settings, options: RunOptions, console: Console) -> RunResult:
    """Everything after validation. Raises Interrupted after cleanup on SIGINT/SIGTERM."""
    if options.rate is not None:
        traffic = scenario.traffic.model_copy(update={"rate": _checked_rate(options.rate)})
        scenario = scenario.model_copy(update={"traffic": traffic})
    preflight(scenario)
    run_dir = options.out_dir or default_run_dir(settings, scenario)
    outputs.check_run_dir(run_dir)  # a bad --out is invalid input (exit 2), said before Docker is asked anything
    engine = Engine.connect(settings).with_compose()  # before anything is written: no Docker or Compose, no run dir
    for run_id in engine.reaped:
        console.print(f"lab: removed the leftovers of run {run_id} (its lab process is gone)", highlight=False)
    outputs.prepare_run_dir(run_dir)
    outputs.write_scenario(run_dir, scenario, options.speed)

    removal = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stack-removal")
    removing: list[Future[None]] = []
    warmed = threading.Thread(target=warm_up, name="warm-up", daemon=True)

    def play() -> None:
        lab_images = ensure_images(
            engine, lambda message: console.print(f"lab: {message}", markup=False, highlight=False))
        stack = engine.stack(images=lab_images, owner=owner_token(), knobs=scenario.knobs, spec=scenario.stack_spec)
        console.print(f"lab: run {stack.run_id}: starting the stack", highlight=False)
        warmed.start()  # while the stack starts: not while requests are timed
        stack.start()  # removes what it started if it fails
        try:
            warmed.join()
            record(scenario, stack, lab_images.tools, run_dir, options, console)
        finally:  # the recording is closed: the stack goes while the run is judged (its reaper stays until then)
            removing.append(removal.submit(stack.down))

    outcome = run_guarded(play)
    with SignalGuard(interrupt=False):  # nothing may cut the stack's removal short
        try:
            if warmed.ident is not None:
                warmed.join()  # matplotlib is not to be used from two threads at once
            recording = load_run(run_dir)  # read once, for the verdict and the reports
            summary = judge(run_dir, scenario, recording)  # a failed or interrupted run is judged as a partial one
            reports.make_reports(run_dir, scenario, summary, recording)
        finally:
            removal.shutdown(wait=True)
            for removed in removing:
                outcome.add(removed.exception())
    console.print(summary_table(summary))
    console.print(f"lab: recording in {run_dir}", markup=False, highlight=False)
    outcome.raise_if_stopped()
    code = {"pass": EXIT_OK, "unreliable": EXIT_UNRELIABLE}.get(summary["verdict"], EXIT_CHECK_FAILED)
    return RunResult(run_dir=run_dir, summary=summary, exit_code=code)


def warm_up() -> None:
    """Imports the readiness probes, the traffic generator and the reports need (matplotlib's fonts too): about a
    second and a half of work done while the stack starts and this process mostly waits for Compose, instead of
    before the first request and after the last."""
    readiness.warm_up()  # first: the stack's readiness is probed as soon as Compose has started it
    loadgen.warm_up()
    reports.warm_up()


def record(scenario: Scenario, stack: Stack, tools_image: str, run_dir: Path, options: RunOptions,
           console: Console) -> None:
    stop = threading.Event()
    recorder = Recorder(scenario, stack, run_dir, seed=options.seed, stop_on_engine_loss=stop, speed=options.speed,
                        planned_duration_s=scenario.duration_s)
    target = StackTarget(stack, tools_image)
    faults = {spec.id: build_fault(spec, target, fault_ttl_s(scenario, spec.id)) for spec in scenario.faults}
    performer = StepPerformer(stack, faults, recorder.log, watch=FaultWatch(faults, recorder.log, recorder.clock),
                              runbook=RunbookRunner(stack, tools_image, scenario.base_dir))
    progress = ConsoleProgress(console, recorder.clock)
    recorder.log.subscribe(progress)
    partial, reason = True, "interrupted"
    try:
        try:
            recorder.start()
            progress.start()
            if performer.watch is not None:
                performer.watch.start()
            Runner(scenario, recorder.clock, recorder.log, performer, stop, prepare=performer.prepare).run()
        except RunStopped:
            raise EngineLost(str(recorder.engine_loss.reason)) from None
        except (LabError, *ENGINE_ERRORS) as exc:  # a step's own error, unless the engine's shutdown caused it
            if recorder.engine_stopped_under_step():
                raise EngineLost(str(recorder.engine_loss.reason)) from exc
            if isinstance(exc, LabError):
                raise
            raise engine_failed(exc) from exc
        partial, reason = False, "completed"
    except LabError as exc:
        reason = f"aborted: {exc}"
        raise
    finally:
        stop.set()
        tear_down(recorder, performer, [progress], partial=partial, reason=reason)


def _checked_rate(rate: float) -> float:
    if not rate > 0:
        raise InvalidInput(f"--rate must be more than 0 requests per second, got {rate:g}")
    if rate > MAX_RATE:
        raise InvalidInput(f"--rate {rate:g} is above {MAX_RATE:g} requests per second, the highest rate measured to "
                           "pass every check with the stack and the lab sharing a quiet 2-core machine "
                           "(bench/RESULTS.md): "
                           "beyond it the recording would not be trustworthy")
    return rate
