"""Rules across a scenario's sections, which no single field can check: steps in time order and on the incident's
clock (a variant's own timeline too), faults applied once (by an apply step, or a deploy onto a release fault's
release) and reverted later (by the lab or a runbook step), no two faults of a kind at once on
one target, checks and drills naming faults that exist, a write check on a declared database, knobs only on the
built-in stack. Every problem is found, each with its field path."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

from lab.judge.checks import ChecksBase
from lab.judge.checks.fault_impacts import KIND as FAULT_IMPACTS
from lab.judge.checks.impact import KIND as IMPACT
from lab.judge.checks.impact import ImpactCheck
from lab.judge.checks.no_write_lost import KIND as NO_WRITE_LOST
from lab.play.steps.apply import ApplyStep
from lab.play.steps.deploy import DeployStep
from lab.play.steps.runbook import RunbookStep
from lab.scenario.document import Scenario
from lab.scenario.timing import MAX_LAB_S, clock_after


def cross_check(scenario: Scenario) -> list[str]:
    """Every problem across sections, each as "field.path: what is wrong"."""
    found: list[str] = []
    ids = [fault.id for fault in scenario.faults]
    found += _duplicates([fault.id for fault in scenario.faults], "faults[{}].id", "fault id")
    found += _timeline_check(scenario, ids)
    found += _named_faults_check(scenario.checks, "checks", ids)
    for i, variant in enumerate(scenario.variants):
        if variant.checks is not None:
            found += _named_faults_check(variant.checks, f"variants[{i}].checks", ids)
        if variant.timeline is not None:  # the same rules, on the scenario as the variant plays it
            varied = scenario.model_copy(update={"timeline": variant.timeline})
            found += [f"variants[{i}].{problem}" for problem in _timeline_check(varied, ids)]
    found += _workload_check(scenario)
    if scenario.stack is not None:
        found += [f"{where}observe: Prometheus and its rules come with the built-in stack's observability part only "
                  f"(this scenario runs on {Path(scenario.stack.compose_file).name})"
                  for where, observe in [("", scenario.observe), *((f"variants[{i}].", v.observe)
                                                                   for i, v in enumerate(scenario.variants))]
                  if observe is not None]
        found += [f"variants[{i}].knobs: knobs change the built-in stack only (this scenario runs on "
                  f"{Path(scenario.stack.compose_file).name})" for i, variant in enumerate(scenario.variants)
                  if variant.knobs.model_fields_set]
    found += _duplicates([variant.name for variant in scenario.variants], "variants[{}].name", "variant")
    for i, fault_id in enumerate(scenario.drill.faults):
        if fault_id not in ids:
            found.append(f"drill.faults[{i}]: unknown fault {fault_id!r} (declared: {', '.join(ids) or 'none'})")
    return found


def _timeline_check(scenario: Scenario, ids: list[str]) -> list[str]:
    """Steps in time order and on the incident's clock, a replay shorter than a day, faults applied once and
    removed later."""
    found: list[str] = []
    for previous, step in itertools.pairwise(scenario.timeline):
        if step.at_minutes < previous.at_minutes:
            found.append(f"timeline[{step.index}].at: {step.at_minutes:g} comes before the previous step's "
                         f"{previous.at_minutes:g}: steps must be in time order")
    if scenario.duration_s > MAX_LAB_S:
        found.append(f"time: the replay would last {scenario.duration_s:.0f} s at speed 1, more than a day "
                     f"({MAX_LAB_S} s): lower seconds_per_incident_minute (or a pace's)")
    for step in scenario.timeline:
        expected = clock_after(scenario.time.incident_start, step.at_minutes)
        if step.clock != expected:
            found.append(f"timeline[{step.index}].clock: {step.clock} does not match incident_start + at ({expected})")
    return found + _fault_windows_check(scenario, ids)


def _duplicates(names: list[str], where: str, what: str) -> list[str]:
    return [f"{where.format(i)}: duplicate {what} {name!r}" for i, name in enumerate(names) if names.index(name) != i]


def _workload_check(scenario: Scenario) -> list[str]:
    found: list[str] = []
    check = scenario.workload.write_check if scenario.workload else None
    databases = [d.service for d in scenario.stack_spec.databases]
    if check is not None and check.database not in databases:
        found.append(f"workload.write_check.database: {check.database!r} is not one of stack.databases "
                     f"({', '.join(databases) or 'none'})")
    if scenario.checks.section(NO_WRITE_LOST) is not None and scenario.workload_spec.write_check is None:
        found.append("checks.no_write_lost: the workload declares no write_check to run")
    return found


def _named_faults_check(checks: ChecksBase, where: str, ids: list[str]) -> list[str]:
    """Impact checks judge the fault they name: it must be declared (and named, for a single fault's window)."""
    found: list[str] = []
    impact = checks.section(IMPACT)
    named: list[tuple[str, ImpactCheck]] = [(f"{where}.impact", impact)] if impact else []
    phases: tuple[ImpactCheck, ...] = checks.section(FAULT_IMPACTS) or ()
    named += [(f"{where}.fault_impacts[{i}]", check) for i, check in enumerate(phases)]
    for path, check in named:
        if check.fault is None and ".fault_impacts[" in path:
            found.append(f"{path}.fault: is required (the fault whose window it judges)")
        elif check.fault is not None and check.fault not in ids:
            found.append(f"{path}.fault: unknown fault {check.fault!r} (declared: {', '.join(ids) or 'none'})")
    return found


def _fault_windows_check(scenario: Scenario, ids: list[str]) -> list[str]:
    found: list[str] = []
    windows: dict[str, tuple[float, float]] = {}
    for step in scenario.timeline:
        if isinstance(step, DeployStep):
            found += _deployed_windows(scenario, step, windows)
        if step.fault is None:
            continue
        where = f"timeline[{step.index}].fault"
        if step.fault not in ids:
            found.append(f"{where}: unknown fault {step.fault!r} (declared: {', '.join(ids) or 'none'})")
        elif isinstance(step, ApplyStep):
            if step.fault in windows:
                found.append(f"{where}: fault {step.fault!r} is applied twice")
            windows[step.fault] = (step.at_minutes, math.inf)
        elif step.fault not in windows or windows[step.fault][1] != math.inf:
            found.append(f"{where}: fault {step.fault!r} is reverted without being applied first")
        else:
            windows[step.fault] = (windows[step.fault][0], step.at_minutes)
    for fault_id, (start, end) in windows.items():
        # A responders' script, or their deploy (a rollback), may end it: the fault watch sees whether it did.
        fix_after = any(isinstance(s, RunbookStep | DeployStep) and s.at_minutes >= start for s in scenario.timeline)
        if end == math.inf and not fix_after:
            found.append(f"faults[{ids.index(fault_id)}]: fault {fault_id!r} is applied but never reverted: "
                         "add a revert step, or a runbook or deploy step that removes it")
    return found + _overlaps(scenario, ids, windows)


def _deployed_windows(scenario: Scenario, step: DeployStep, windows: dict[str, tuple[float, float]]) -> list[str]:
    """The windows of the release faults a deploy step puts in place, added to `windows`."""
    found = []
    for fault_id in scenario.puts_in_place(step):
        if fault_id in windows and windows[fault_id][1] == math.inf:
            found.append(f"timeline[{step.index}].release: puts fault {fault_id!r} in place while it already is")
        # A gate that rolls back ends the fault within the step, should the service fail it.
        windows[fault_id] = (step.at_minutes, step.at_minutes if step.rolls_back else math.inf)
    return found


def _overlaps(scenario: Scenario, ids: list[str], windows: dict[str, tuple[float, float]]) -> list[str]:
    found: list[str] = []
    by_id = {fault.id: fault for fault in scenario.faults}
    applied = sorted(windows.items(), key=lambda item: item[1][0])
    for i, (first_id, (_, first_end)) in enumerate(applied):
        for second_id, (second_start, _) in applied[i + 1:]:
            same_target = by_id[first_id].target == by_id[second_id].target
            if same_target and second_start < first_end and by_id[first_id].kind == by_id[second_id].kind:
                found.append(f"faults[{ids.index(second_id)}]: overlaps fault {first_id!r} of the same kind on the "
                             f"same target {by_id[first_id].target!r}")
    return found

