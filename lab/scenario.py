"""Scenario files: parsed once at the boundary into frozen dataclasses, every problem reported at once.

A scenario replays an incident on the lab stack. Its timeline is written in incident minutes (`at`, optionally
labelled with the incident's wall clock, `clock: "14:20"`); `time.seconds_per_incident_minute` compresses it, and
`--speed` compresses it further.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from lab.errors import InvalidInput, ScenarioError
from lab.stack import SERVICES

ACTIONS = ("apply", "revert", "restart", "exec", "note")
MILESTONES = ("investigating", "identified", "mitigation", "resolved")
FAULT_KINDS = ("packet-drop",)
CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
FAULT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
MAX_RATE = 500.0


@dataclass(frozen=True)
class TimeSpec:
    incident_start: str
    """The incident's wall clock at minute 0, e.g. "14:00"."""
    seconds_per_incident_minute: float
    steady_state_s: float
    """Lab seconds of normal traffic before minute 0: the baseline the impact is measured against."""
    tail_s: float
    """Lab seconds observed after the last step, to see the recovery."""


@dataclass(frozen=True)
class TrafficSpec:
    rate: float
    read_ratio: float
    timeout_s: float


@dataclass(frozen=True)
class FaultSpec:
    id: str
    kind: str
    target: str
    destination: str
    port: int
    ttl_s: float | None
    """Seconds after which the fault reverts itself on the Docker side; None: planned duration + margin."""
    description: str


@dataclass(frozen=True)
class Step:
    index: int
    at_minutes: float
    clock: str
    action: str
    text: str
    fault: str | None = None
    service: str | None = None
    command: tuple[str, ...] = ()
    milestone: str | None = None


@dataclass(frozen=True)
class AlertRule:
    name: str
    error_rate_above: float
    window_s: float
    min_requests: int


@dataclass(frozen=True)
class Checks:
    steady_max_error_rate: float | None = None
    impact_min_error_rate: float | None = None
    impact_max_error_rate: float | None = None
    impact_min_failure_latency_s: float | None = None
    detect_within_s: float | None = None
    restart_ineffective_min_error_rate: float | None = None
    recovery_within_s: float | None = None
    recovery_window_s: float = 3.0
    recovery_max_error_rate: float = 0.01
    recovery_max_latency_s: float = 1.0
    no_write_lost: bool = False


@dataclass(frozen=True)
class Hint:
    after_s: float | None
    """Seconds after the fault when the hint is released by itself; None: only on request."""
    text: str


@dataclass(frozen=True)
class DrillSpec:
    inject_after_s: tuple[float, float] = (20.0, 60.0)
    """The fault lands at a moment in this window (seconds after steady traffic starts), unknown to the trainee."""
    max_duration_s: float = 1800.0
    hints: tuple[Hint, ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    source: str
    summary: str
    time: TimeSpec
    traffic: TrafficSpec
    faults: tuple[FaultSpec, ...]
    timeline: tuple[Step, ...]
    alerts: tuple[AlertRule, ...]
    checks: Checks
    root_cause: str = ""
    corrective_measures: tuple[str, ...] = ()
    drill: DrillSpec = field(default_factory=DrillSpec)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def offset_s(self, at_minutes: float) -> float:
        """Lab offset (seconds since the run started) of an incident minute."""
        return self.time.steady_state_s + at_minutes * self.time.seconds_per_incident_minute

    @property
    def duration_s(self) -> float:
        last = max((step.at_minutes for step in self.timeline), default=0.0)
        return self.offset_s(last) + self.time.tail_s

    def fault(self, fault_id: str) -> FaultSpec:
        return next(f for f in self.faults if f.id == fault_id)

    def with_speed(self, speed: float) -> Scenario:
        """The same scenario played `speed` times faster (steady state and tail stay as written)."""
        if not speed > 0:
            raise InvalidInput(f"--speed must be greater than 0, got {speed}")
        time = replace(self.time, seconds_per_incident_minute=self.time.seconds_per_incident_minute / speed)
        return replace(self, time=time)


def resolve(name_or_path: str, scenarios_dir: Path) -> Path:
    """A scenario name (`db-network-misconfig`) or a path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise InvalidInput(f"scenario file {path} does not exist")
        return path
    candidate = scenarios_dir / f"{name_or_path}.yaml"
    if not candidate.is_file():
        known = ", ".join(sorted(p.stem for p in scenarios_dir.glob("*.yaml"))) or "none"
        raise InvalidInput(f"no scenario named {name_or_path!r} (known: {known})")
    return candidate


def load(path: Path) -> Scenario:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read scenario {path}: {exc}") from exc
    return parse(text, source=str(path), default_name=path.stem)


def parse(text: str, source: str = "<scenario>", default_name: str = "scenario") -> Scenario:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(source, [f"not valid YAML{where}: {problem}"]) from exc
    reader = _Reader()
    scenario = reader.scenario(document, default_name)
    if reader.problems or scenario is None:
        raise ScenarioError(source, reader.problems or ["empty scenario"])
    return scenario


class _Reader:
    """Walks the YAML document, collecting every problem with its field path instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    # --- typed field readers -------------------------------------------------------------------------------
    def mapping(self, value: Any, path: str, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.problem(path, f"must be a mapping, got {_type_name(value)}")
            return {}
        for key in value:
            if key not in allowed:
                self.problem(f"{path}.{key}" if path else str(key),
                             f"unknown field (allowed: {', '.join(sorted(allowed))})")
        return value

    def text(self, block: dict[str, Any], key: str, path: str, default: str | None = None) -> str:
        value = block.get(key, default)
        if value is None:
            self.problem(_join(path, key), "is required")
            return ""
        if not isinstance(value, str) or not value.strip():
            self.problem(_join(path, key), f"must be a non-empty string, got {_type_name(value)}")
            return ""
        return value.strip()

    def number(self, block: dict[str, Any], key: str, path: str, default: float | None = None, *,
               minimum: float | None = None, above: float | None = None, maximum: float | None = None) -> float:
        value = block.get(key, default)
        where = _join(path, key)
        if value is None:
            self.problem(where, "is required")
            return 0.0
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(where, f"must be a number, got {_type_name(value)}")
            return 0.0
        number = float(value)
        if not math.isfinite(number):
            self.problem(where, f"must be a finite number, got {number}")
            return 0.0
        if minimum is not None and number < minimum:
            self.problem(where, f"must be at least {minimum:g}, got {number:g}")
        if above is not None and number <= above:
            self.problem(where, f"must be greater than {above:g}, got {number:g}")
        if maximum is not None and number > maximum:
            self.problem(where, f"must be at most {maximum:g}, got {number:g}")
        return number

    def optional_number(self, block: dict[str, Any], key: str, path: str, **bounds: float) -> float | None:
        return self.number(block, key, path, **bounds) if key in block else None

    def choice(self, block: dict[str, Any], key: str, path: str, options: tuple[str, ...]) -> str:
        value = self.text(block, key, path)
        if value and value not in options:
            self.problem(_join(path, key), f"unknown value {value!r} (known: {', '.join(options)})")
        return value

    def items(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(path, f"must be a list, got {_type_name(value)}")
            return []
        return value

    # --- sections ------------------------------------------------------------------------------------------
    def scenario(self, document: Any, default_name: str) -> Scenario | None:
        if document is None:
            self.problem("(file)", "is empty")
            return None
        top = self.mapping(document, "", {"name", "title", "source", "summary", "time", "traffic", "faults",
                                          "timeline", "alerts", "checks", "root_cause", "corrective_measures",
                                          "drill"})
        if not top:
            return None
        time = self.time(top.get("time", {}))
        faults = tuple(self.fault(raw, f"faults[{i}]") for i, raw in enumerate(self.items(top.get("faults"), "faults")))
        steps = tuple(self.step(raw, i, time) for i, raw in enumerate(self.items(top.get("timeline"), "timeline")))
        if not steps:
            self.problem("timeline", "must list at least one step")
        self.cross_check(faults, steps)
        measures = self.items(top.get("corrective_measures"), "corrective_measures")
        for i, measure in enumerate(measures):
            if not isinstance(measure, str):
                self.problem(f"corrective_measures[{i}]", "must be a string")
        return Scenario(
            name=str(top.get("name") or default_name),
            title=self.text(top, "title", ""),
            source=self.text(top, "source", "", default="(not given)"),
            summary=str(top.get("summary") or "").strip(),
            time=time,
            traffic=self.traffic(top.get("traffic", {})),
            faults=faults,
            timeline=steps,
            alerts=tuple(self.alert(raw, f"alerts[{i}]")
                         for i, raw in enumerate(self.items(top.get("alerts"), "alerts"))),
            checks=self.checks(top.get("checks", {})),
            root_cause=str(top.get("root_cause") or "").strip(),
            corrective_measures=tuple(str(m) for m in measures),
            drill=self.drill(top.get("drill", {})),
            raw=document,
        )

    def time(self, raw: Any) -> TimeSpec:
        block = self.mapping(raw, "time", {"incident_start", "seconds_per_incident_minute", "steady_state_s", "tail_s"})
        start = self.text(block, "incident_start", "time", default="00:00")
        if start and not CLOCK.match(start):
            self.problem("time.incident_start", f"must be a 24-hour clock like 14:00, got {start!r}")
        return TimeSpec(
            incident_start=start,
            seconds_per_incident_minute=self.number(block, "seconds_per_incident_minute", "time", 1.0, above=0),
            steady_state_s=self.number(block, "steady_state_s", "time", 10.0, minimum=3, maximum=3600),
            tail_s=self.number(block, "tail_s", "time", 10.0, minimum=0, maximum=3600),
        )

    def traffic(self, raw: Any) -> TrafficSpec:
        block = self.mapping(raw, "traffic", {"rate", "read_ratio", "timeout_s"})
        return TrafficSpec(
            rate=self.number(block, "rate", "traffic", 20.0, above=0, maximum=MAX_RATE),
            read_ratio=self.number(block, "read_ratio", "traffic", 0.7, minimum=0, maximum=1),
            timeout_s=self.number(block, "timeout_s", "traffic", 10.0, above=0, maximum=120),
        )

    def fault(self, raw: Any, path: str) -> FaultSpec:
        block = self.mapping(raw, path, {"id", "kind", "target", "destination", "port", "ttl_s", "description"})
        target = self.choice(block, "target", path, SERVICES)
        destination = self.choice(block, "destination", path, SERVICES)
        if target and target == destination:
            self.problem(f"{path}.destination", "must differ from the target")
        port = self.number(block, "port", path, 5432, minimum=1, maximum=65535)
        if port != int(port):
            self.problem(f"{path}.port", "must be a whole number")
        fault_id = self.text(block, "id", path)
        if fault_id and not FAULT_ID.match(fault_id):
            self.problem(f"{path}.id", f"must be lowercase letters, digits and dashes (at most 40), got {fault_id!r}")
        return FaultSpec(
            id=fault_id,
            kind=self.choice(block, "kind", path, FAULT_KINDS),
            target=target,
            destination=destination,
            port=int(port),
            ttl_s=self.optional_number(block, "ttl_s", path, above=0, maximum=86400),
            description=str(block.get("description") or "").strip(),
        )

    def step(self, raw: Any, index: int, time: TimeSpec) -> Step:
        path = f"timeline[{index}]"
        block = self.mapping(raw, path, {"at", "clock", "action", "text", "fault", "service", "command", "milestone"})
        at = self.number(block, "at", path, minimum=0, maximum=24 * 60)
        action = self.choice(block, "action", path, ACTIONS)
        clock = str(block.get("clock") or "")
        if clock and not CLOCK.match(clock):
            self.problem(f"{path}.clock", f"must be a 24-hour clock like 14:20, got {clock!r}")
        elif clock and CLOCK.match(time.incident_start) and clock != _clock_after(time.incident_start, at):
            self.problem(f"{path}.clock", f"{clock} does not match incident_start + at "
                                          f"({_clock_after(time.incident_start, at)})")
        milestone = block.get("milestone")
        if milestone is not None and milestone not in MILESTONES:
            self.problem(f"{path}.milestone", f"unknown value {milestone!r} (known: {', '.join(MILESTONES)})")
        required: dict[str, tuple[str, ...]] = {
            "apply": ("fault",), "revert": ("fault",), "restart": ("service",), "exec": ("service", "command"),
            "note": ("text",),
        }
        for key in required.get(action, ()):
            if key not in block:
                self.problem(f"{path}.{key}", f"is required for action {action!r}")
        for key in ("fault", "service", "command"):
            if key in block and key not in required.get(action, (key,)):
                self.problem(f"{path}.{key}", f"does not apply to action {action!r}")
        service = block.get("service")
        if service is not None and service not in SERVICES:
            self.problem(f"{path}.service", f"unknown service {service!r} (known: {', '.join(SERVICES)})")
        command = block.get("command", [])
        if isinstance(command, str):
            self.problem(f"{path}.command", "must be a list of arguments (argv), not a shell string")
            command = []
        elif not isinstance(command, list) or not all(isinstance(arg, str) for arg in command) or (
            action == "exec" and not command
        ):
            self.problem(f"{path}.command", "must be a non-empty list of strings")
            command = []
        return Step(
            index=index, at_minutes=at, clock=clock or _clock_after(time.incident_start, at)
            if CLOCK.match(time.incident_start) else "",
            action=action, text=str(block.get("text") or "").strip(), fault=_str_or_none(block.get("fault")),
            service=_str_or_none(service), command=tuple(command), milestone=_str_or_none(milestone),
        )

    def cross_check(self, faults: tuple[FaultSpec, ...], steps: tuple[Step, ...]) -> None:
        """Rules across sections: steps in order, faults applied once and reverted later, no overlap per target."""
        ids = [fault.id for fault in faults]
        for i, fault_id in enumerate(ids):
            if fault_id and ids.index(fault_id) != i:
                self.problem(f"faults[{i}].id", f"duplicate fault id {fault_id!r}")
        for previous, step in itertools.pairwise(steps):
            if step.at_minutes < previous.at_minutes:
                self.problem(f"timeline[{step.index}].at",
                             f"{step.at_minutes:g} comes before the previous step's {previous.at_minutes:g}: "
                             "steps must be in time order")
        windows: dict[str, tuple[float, float]] = {}
        for step in steps:
            if step.action not in ("apply", "revert") or not step.fault:
                continue
            where = f"timeline[{step.index}].fault"
            if step.fault not in ids:
                self.problem(where, f"unknown fault {step.fault!r} (declared: {', '.join(ids) or 'none'})")
            elif step.action == "apply":
                if step.fault in windows:
                    self.problem(where, f"fault {step.fault!r} is applied twice")
                windows[step.fault] = (step.at_minutes, float("inf"))
            elif step.fault not in windows or windows[step.fault][1] != float("inf"):
                self.problem(where, f"fault {step.fault!r} is reverted without being applied first")
            else:
                windows[step.fault] = (windows[step.fault][0], step.at_minutes)
        for fault_id, (_, end) in windows.items():
            if end == float("inf"):
                self.problem(f"faults[{ids.index(fault_id)}]",
                             f"fault {fault_id!r} is applied but never reverted: add a revert step")
        by_id = {fault.id: fault for fault in faults}
        applied = sorted(windows.items(), key=lambda item: item[1][0])
        for i, (first_id, (_, first_end)) in enumerate(applied):
            for second_id, (second_start, _) in applied[i + 1:]:
                same_target = by_id[first_id].target == by_id[second_id].target
                if same_target and second_start < first_end:
                    self.problem(f"faults[{ids.index(second_id)}]",
                                 f"overlaps fault {first_id!r} on the same target {by_id[first_id].target!r}")

    def drill(self, raw: Any) -> DrillSpec:
        block = self.mapping(raw, "drill", {"inject_after_s", "max_duration_s", "hints"})
        window = block.get("inject_after_s", [20, 60])
        if (not isinstance(window, list) or len(window) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in window)
                or not 0 <= window[0] <= window[1]):
            self.problem("drill.inject_after_s", f"must be [earliest, latest] seconds with 0 <= earliest <= latest, "
                                                 f"got {window!r}")
            window = [20, 60]
        hints = []
        for i, raw_hint in enumerate(self.items(block.get("hints"), "drill.hints")):
            path = f"drill.hints[{i}]"
            hint = self.mapping(raw_hint, path, {"after_s", "text"})
            hints.append(Hint(after_s=self.optional_number(hint, "after_s", path, minimum=0),
                              text=self.text(hint, "text", path)))
        return DrillSpec(inject_after_s=(float(window[0]), float(window[1])),
                         max_duration_s=self.number(block, "max_duration_s", "drill", 1800.0, above=0, maximum=86400),
                         hints=tuple(hints))

    def alert(self, raw: Any, path: str) -> AlertRule:
        block = self.mapping(raw, path, {"name", "error_rate_above", "window_s", "min_requests"})
        return AlertRule(
            name=self.text(block, "name", path),
            error_rate_above=self.number(block, "error_rate_above", path, minimum=0, maximum=1),
            window_s=self.number(block, "window_s", path, 3.0, above=0, maximum=600),
            min_requests=int(self.number(block, "min_requests", path, 5, minimum=1)),
        )

    def checks(self, raw: Any) -> Checks:
        sections: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
            "steady_state": lambda b, p: {"steady_max_error_rate": self.number(b, "max_error_rate", p, 0.01,
                                                                                minimum=0, maximum=1)},
            "impact": lambda b, p: {
                "impact_min_error_rate": self.number(b, "min_error_rate", p, minimum=0, maximum=1),
                "impact_max_error_rate": self.number(b, "max_error_rate", p, 1.0, minimum=0, maximum=1),
                "impact_min_failure_latency_s": self.optional_number(b, "min_failure_latency_s", p, minimum=0),
            },
            "detection": lambda b, p: {"detect_within_s": self.number(b, "within_s", p, above=0)},
            "restart_ineffective": lambda b, p: {
                "restart_ineffective_min_error_rate": self.number(b, "min_error_rate", p, minimum=0, maximum=1)},
            "recovery": lambda b, p: {
                "recovery_within_s": self.number(b, "within_s", p, above=0),
                "recovery_window_s": self.number(b, "window_s", p, 3.0, above=0),
                "recovery_max_error_rate": self.number(b, "max_error_rate", p, 0.01, minimum=0, maximum=1),
                "recovery_max_latency_s": self.number(b, "max_latency_s", p, 1.0, above=0),
            },
            "no_write_lost": lambda b, p: {"no_write_lost": True},
        }
        block = self.mapping(raw, "checks", set(sections))
        values: dict[str, Any] = {}
        for key, read in sections.items():
            if key in block:
                section = block[key] if block[key] is not None else {}
                values.update(read(self.mapping(section, f"checks.{key}", _CHECK_FIELDS[key]), f"checks.{key}"))
        return Checks(**values)


_CHECK_FIELDS = {
    "steady_state": {"max_error_rate"},
    "impact": {"min_error_rate", "max_error_rate", "min_failure_latency_s"},
    "detection": {"within_s"},
    "restart_ineffective": {"min_error_rate"},
    "recovery": {"within_s", "window_s", "max_error_rate", "max_latency_s"},
    "no_write_lost": set(),
}


def _clock_after(start: str, minutes: float) -> str:
    hours, mins = (int(part) for part in start.split(":"))
    total = (hours * 60 + mins + round(minutes)) % (24 * 60)
    return f"{total // 60:02d}:{total % 60:02d}"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}.get(type(value),
                                                                                         type(value).__name__)
