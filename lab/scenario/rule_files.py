"""The Prometheus rule files a scenario names (`observe.rules`), read before anything starts: each inside the
scenario's directory (a shared scenario must not read the files of whoever runs it: the lab copies them into a
container), readable YAML, and the alert names they define, so that a `detection` check naming an alert no file
defines is refused. Whether Prometheus accepts the rules themselves is promtool's to say (lab.stack.promtool)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from lab.scenario.document import Scenario
from lab.scenario.observe import ObserveSpec

MAX_RULE_FILE_BYTES = 1 << 20
"""A rule file larger than this is refused: a team's rules are kilobytes, and the file goes into a container."""


@dataclass(frozen=True)
class RuleFile:
    path: Path
    shown: str
    """As the scenario names it."""
    alerts: dict[str, int]
    """Alert name -> the line of its `alert:`."""


def rule_files(spec: ObserveSpec, base_dir: Path) -> tuple[list[RuleFile], list[str]]:
    """The rule files read, and every problem with them ("observe.rules[i]: ..." or "FILE:LINE: ...")."""
    found: list[RuleFile] = []
    problems: list[str] = []
    for i, (shown, path) in enumerate(zip(spec.rules, spec.rule_paths(base_dir), strict=True)):
        problem = _place_problem(path, base_dir)
        if problem:
            problems.append(f"observe.rules[{i}]: {problem}")
            continue
        try:
            root = yaml.compose(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            problems.append(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', None) or exc}")
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"observe.rules[{i}]: cannot read {path}: {exc}")
            continue
        found.append(RuleFile(path, shown, _alerts(root)))
    return found, problems


def rule_problems(scenario: Scenario, variants: bool = True) -> list[str]:
    """Every problem with the scenario's rule files, and every `detection` check naming an alert that no rule file
    of its run and no `alerts:` rule defines; its variants' too unless `variants` is False (a run plays one: the
    scenario as shaped by `--variant`)."""
    problems: list[str] = []
    own = {rule.name for rule in scenario.alerts}
    runs = [("", scenario.observe, scenario.checks)]
    runs += [(f"variants[{i}].", variant.observe or scenario.observe, variant.checks or scenario.checks)
             for i, variant in enumerate(scenario.variants) if variants]
    read: dict[ObserveSpec, list[RuleFile]] = {}
    for prefix, observe, checks in runs:
        files: list[RuleFile] = []
        if observe is not None:
            if observe not in read:
                read[observe], found = rule_files(observe, scenario.base_dir)
                problems += [f"{prefix}{problem}" if problem.startswith("observe.") else problem
                             for problem in found if problem not in problems]
            files = read[observe]
        detection = getattr(checks, "detection", None)
        named = getattr(detection, "alert", None)
        defined = {name for file in files for name in file.alerts}
        if named is not None and named not in defined | own and (observe is None or files):
            where = (", ".join(f"{file.shown} defines {', '.join(sorted(file.alerts)) or 'no alert'}"
                               for file in files) if files else "no `observe.rules` names a rule file")
            problems.append(f"{prefix}checks.detection.alert: no rule defines the alert `{named}` ({where})")
    return problems


def _place_problem(path: Path, home: Path) -> str | None:
    try:
        resolved, place = path.resolve(), home.resolve()
        if not resolved.is_relative_to(place):
            shown = path if resolved == path else f"{path} (that is {resolved})"
            return f"{shown} is outside {home}: a rule file must be in the scenario's directory"
        if not path.is_file():
            return f"{path} is not a file" if path.exists() else f"{path} does not exist"
        if path.stat().st_size > MAX_RULE_FILE_BYTES:
            return f"{path} is larger than {MAX_RULE_FILE_BYTES >> 20} MiB"
    except (OSError, RuntimeError) as exc:  # a name too long, a symlink loop (RuntimeError before Python 3.13)
        return f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}"
    return None


def _alerts(root: Node | None) -> dict[str, int]:
    """Alert names -> lines, from the file's `groups[].rules[].alert` as far as it has that shape (the rest of its
    shape is promtool's to judge)."""
    alerts: dict[str, int] = {}
    for group in _items(_value(root, "groups")):
        for rule in _items(_value(group, "rules")):
            name = _value(rule, "alert")
            if isinstance(name, ScalarNode) and name.value:
                alerts.setdefault(str(name.value), name.start_mark.line + 1)
    return alerts


def _value(node: Node | None, key: str) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    return next((value for name, value in node.value if isinstance(name, ScalarNode) and name.value == key), None)


def _items(node: Node | None) -> list[Node]:
    return list(node.value) if isinstance(node, SequenceNode) else []
