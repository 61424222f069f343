"""A scenario shaped for one play, in one place: another runbook's steps in place of its own (`--runbook`), a
corrective measure's variant (`--variant`), another rate of synthetic users (`--rate`), a faster pace (`--speed`,
lab.scenario.pacing). What is shaped is what the run keeps beside its recording and is judged by."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from lab import user_paths
from lab.errors import InvalidInput, ScenarioError
from lab.play.steps.base import StepBase
from lab.play.steps.runbook import RunbookStep
from lab.scenario.document import Scenario
from lab.scenario.pacing import faster, largest_allowed
from lab.scenario.reader import finish, load_runbook
from lab.scenario.rules import cross_check
from lab.scenario.traffic import MAX_RATE


def played(scenario: Scenario, *, runbook: Path | None = None, variant: str | None = None, rate: float | None = None,
           speed: float | Literal["max"] = 1.0) -> Scenario:
    """The scenario as `lab run` plays it, each shaping checked (InvalidInput, one line) before anything starts.
    `speed="max"`: the largest speed it allows, shaped as it is (a CI pipeline's shortest run that is judged)."""
    if runbook is not None:
        if variant is not None and any(v.name == variant and v.timeline is not None for v in scenario.variants):
            raise InvalidInput(f"variant {variant} plays its own timeline: --runbook has no runbook steps to replace")
        if not user_paths.is_file(runbook):
            raise InvalidInput(f"runbook file {runbook} does not exist")
        scenario = with_runbook(scenario, load_runbook(runbook, scenario.topology), str(runbook))
    if variant is not None:
        scenario = with_variant(scenario, variant)
    if rate is not None:  # first: the largest speed keeps room for the requests a fault is judged on, at this rate
        scenario = with_rate(scenario, rate)
    return faster(scenario, largest_allowed(scenario) if speed == "max" else speed)


def with_variant(scenario: Scenario, name: str) -> Scenario:
    """The same incident on the stack the variant's measure changes (played on its own timeline if it has one),
    judged by the variant's checks (a section given as false is not judged)."""
    chosen = next((v for v in scenario.variants if v.name == name), None)
    if chosen is None:
        known = ", ".join(v.name for v in scenario.variants) or "none"
        raise InvalidInput(f"scenario {scenario.name} has no variant {name!r} (variants: {known})")
    checks = scenario.checks
    if chosen.checks is not None:  # the sections it names replace the scenario's
        checks = checks.model_copy(update={key: getattr(chosen.checks, key) for key in chosen.checks.model_fields_set})
    traffic = scenario.traffic if chosen.retry is None else \
        scenario.traffic.model_copy(update={"retry": chosen.retry})
    # Its own timeline was checked with the scenario (lab.scenario.rules), and finished with it (reader.finish).
    timeline = scenario.timeline if chosen.timeline is None else chosen.timeline
    varied = scenario.model_copy(update={"knobs": chosen.knobs.applied_to(scenario.knobs), "checks": checks,
                                         "traffic": traffic, "observe": chosen.observe or scenario.observe,
                                         "timeline": timeline})
    varied._variant = chosen
    return varied


def with_runbook(scenario: Scenario, steps: tuple[StepBase, ...], source: str) -> Scenario:
    """The same incident with the runbook steps of a separate runbook file (`lab run --runbook FILE`) in place of
    the scenario's own: its runbook steps go, the file's steps come, all in time order."""
    kept = [step for step in scenario.timeline if not isinstance(step, RunbookStep)]
    merged = sorted([*kept, *steps], key=lambda step: step.at_minutes)  # stable: the scenario's first
    replaced = finish(scenario.model_copy(update={"timeline": tuple(merged)}), scenario.name)
    found = cross_check(replaced)
    if found:
        raise ScenarioError(source, found)
    document = dict(scenario.document)
    document["timeline"] = [step.model_dump(mode="json", by_alias=True, exclude_defaults=True)
                            for step in replaced.timeline]
    replaced._document = document
    return replaced


def with_rate(scenario: Scenario, rate: float) -> Scenario:
    """The same incident under `rate` synthetic requests per second."""
    if not rate > 0:
        raise InvalidInput(f"--rate must be more than 0 requests per second, got {rate:g}")
    if rate > MAX_RATE:
        raise InvalidInput(f"--rate {rate:g} is above {MAX_RATE:g} requests per second, the highest rate measured to "
                           "pass every check with the stack and the lab sharing a quiet 2-core machine "
                           "(bench/RESULTS.md): beyond it the recording would not be trustworthy")
    return scenario.model_copy(update={"traffic": scenario.traffic.model_copy(update={"rate": rate})})
