"""Reading scenario files: parsed once at the boundary into frozen models, every problem reported at once with its
field path ("timeline[3].at: must be at least 0, got -5"). A scenario's service names are checked against its stack:
the built-in one, or the team's Compose file named in `stack.compose_file`, whose topology is read first. Runbook
files (`lab run --runbook FILE`) are read the same way."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Field, ValidationError

from lab import user_paths
from lab.document import DocumentModel, Topology, problems
from lab.errors import InvalidInput, ScenarioError
from lab.play.steps import action_of, step_kinds
from lab.play.steps.base import StepBase
from lab.play.steps.runbook import RunbookStep
from lab.scenario.document import Scenario
from lab.scenario.names import name_from
from lab.scenario.rules import cross_check
from lab.scenario.schema import discriminators, document_model
from lab.scenario.timing import clock_after
from lab.stack.builtin import BUILTIN_TOPOLOGY
from lab.stack.topology import ComposeTopology, read_topology
from lab.yaml_file import YamlProblem, load_yaml

RUNBOOK_KINDS = tuple(kind for kind in step_kinds() if kind.in_runbook)
"""The steps a runbook file may hold: the responders' (the fault's apply and revert belong to the scenario)."""
if TYPE_CHECKING:
    RunbookFileStep = StepBase
else:  # the tagged union of those kinds; typed by their base
    RunbookFileStep = Annotated[Union[RUNBOOK_KINDS], Field(discriminator="action")]  # noqa: UP007 - a tagged union


def resolve(name_or_path: str, scenario_dirs: tuple[Path, ...]) -> Path:
    """A scenario name (`db-network-misconfig`, looked up in `scenario_dirs` in order) or a path to a YAML file."""
    path = _named(name_or_path)
    if user_paths.is_dir(path):
        raise InvalidInput(f"{path} is a directory, not a scenario file (`lab validate {path}` checks each one)")
    if path.suffix in (".yaml", ".yml") or user_paths.exists(path):
        if not user_paths.is_file(path):
            raise InvalidInput(f"scenario file {path} does not exist")
        return path
    for directory in scenario_dirs:
        candidate = directory / f"{name_or_path}.yaml"
        if user_paths.is_file(candidate):
            return candidate
    known = ", ".join(sorted({p.stem for d in scenario_dirs for p in d.glob("*.yaml")})) or "none"
    raise InvalidInput(f"no scenario named {name_or_path!r} (known: {known})")


def resolve_all(name_or_path: str, scenario_dirs: tuple[Path, ...]) -> list[Path]:
    """What `lab validate` checks: the scenario files of a directory, or the one file `resolve` finds."""
    directory = _named(name_or_path)
    if not user_paths.is_dir(directory):
        return [resolve(name_or_path, scenario_dirs)]
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise InvalidInput(f"no scenario file (*.yaml) in {directory}")
    return paths


def _named(name_or_path: str) -> Path:
    """The path of a SCENARIO argument; an empty one is refused, not read as `.`, the current directory."""
    if not name_or_path.strip():
        raise InvalidInput(f"SCENARIO is empty (got {name_or_path!r}): name a scenario, a scenario file or a "
                           "directory of them")
    return Path(name_or_path)


def load(path: Path, check_stack: bool = True) -> Scenario:
    """`check_stack`: as `parse`'s (False for the scenario kept beside a recording)."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read scenario {path}: {exc}") from exc
    return parse(text, source=str(path), default_name=path.stem, base_dir=path.resolve().parent,
                 check_stack=check_stack)


def parse(text: str, source: str = "<scenario>", default_name: str = "scenario", base_dir: Path | None = None,
          check_stack: bool = True) -> Scenario:
    """A scenario from its text. Service names are checked against its stack: the built-in one, or the team's
    Compose file named in `stack.compose_file` (relative to `base_dir`), whose topology is read first. A recording's
    scenario is parsed with `check_stack=False`: it was checked when it ran, and the team's file, or the
    environment it needs, may not be there any more."""
    document = _yaml_mapping(text, source)
    base = base_dir or Path.cwd()
    compose, topology = _stack_of(document, base, source) if check_stack else (None, None)
    try:
        scenario = document_model().model_validate(document, context={"topology": topology, "compose": compose})
    except ValidationError as exc:
        raise ScenarioError(source, problems(exc, discriminators())) from exc
    except RecursionError as exc:
        raise ScenarioError(source, ["nested too deeply to be a scenario"]) from exc
    scenario = finish(scenario, default_name)
    if scenario.stack is not None:
        scenario = scenario.model_copy(update={"stack": scenario.stack.resolved(base)})
    found = cross_check(scenario)
    if found:
        raise ScenarioError(source, found)
    scenario._document = document
    scenario._base_dir = base
    scenario._topology = topology or BUILTIN_TOPOLOGY
    return scenario


def _yaml_mapping(text: str, source: str) -> dict[str, Any]:
    try:
        document = load_yaml(text, "a scenario")
    except YamlProblem as exc:
        raise ScenarioError(source, exc.problems) from exc
    if document is None:
        raise ScenarioError(source, ["(file): is empty"])
    if not isinstance(document, dict):
        raise ScenarioError(source, [f"(file): must be a mapping, got {type(document).__name__}"])
    return document


def _stack_of(document: dict[str, Any], base: Path, source: str) -> tuple[ComposeTopology | None, Topology]:
    """The team's Compose topology, if the scenario names a Compose file, and the names its faults and steps may
    use. Read before the rest is validated, since every service name is checked against it."""
    stack = document.get("stack")
    if not isinstance(stack, dict) or not isinstance(stack.get("compose_file"), str):
        return None, BUILTIN_TOPOLOGY
    path = Path(stack["compose_file"])
    try:
        compose = read_topology(path if path.is_absolute() else base / path)
    except InvalidInput as exc:
        raise ScenarioError(source, [str(exc)]) from exc
    databases = tuple(str(d.get("service")) for d in stack.get("databases") or [] if isinstance(d, dict))
    return compose, Topology(services=tuple(compose.services), databases=databases)


def finish(scenario: Scenario, default_name: str) -> Scenario:
    """Fill what is derived: the name from the file, each step's index and clock (a variant's timeline's too)."""
    variants = tuple(variant if variant.timeline is None else
                     variant.model_copy(update={"timeline": _finished(variant.timeline, scenario.time.incident_start)})
                     for variant in scenario.variants)
    return scenario.model_copy(update={"name": scenario.name or name_from(default_name), "variants": variants,
                                       "timeline": _finished(scenario.timeline, scenario.time.incident_start)})


def _finished(timeline: tuple[StepBase, ...], incident_start: str) -> tuple[StepBase, ...]:
    steps = []
    for index, step in enumerate(timeline):
        if not step.clock:
            step = step.model_copy(update={"clock": clock_after(incident_start, step.at_minutes)})
        step._index = index
        steps.append(step)
    return tuple(steps)


class RunbookFile(DocumentModel):
    """A runbook kept apart from its incident: the responders' steps (`lab run SCENARIO --runbook FILE`)."""

    title: str = ""
    steps: tuple[RunbookFileStep, ...] = Field(min_length=1)


def load_runbook(path: Path, topology: Topology) -> tuple[StepBase, ...]:
    """The steps of a runbook file, their scripts made absolute (they are relative to the runbook file, and must
    stay in its directory: `lab.play.preflight`)."""
    try:
        document = load_yaml(path.read_text(), "a runbook")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read runbook {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    except YamlProblem as exc:
        raise ScenarioError(str(path), exc.problems) from exc
    try:
        runbook = RunbookFile.model_validate(document, context={"topology": topology})
    except ValidationError as exc:
        raise ScenarioError(str(path), problems(exc, {action_of(kind): "action" for kind in RUNBOOK_KINDS})) from exc
    except RecursionError as exc:
        raise ScenarioError(str(path), ["nested too deeply to be a runbook"]) from exc
    base = path.resolve().parent
    return tuple(step.from_file_in(base) if isinstance(step, RunbookStep) else step for step in runbook.steps)
