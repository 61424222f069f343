"""The run directory's files: the scenario as run, summary.json and junit.xml."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, field_validator

from lab.errors import InvalidInput
from lab.judge.analysis import Analysis
from lab.judge.checks import CheckResult
from lab.scenario.document import Scenario

STAMPED_NAME = re.compile(r"\d{8}T\d{6}Z-(?P<subject>.+)")
"""A run directory named by the lab (`new_run_dir`); one given with --out may be named anything."""


def new_run_dir(runs_dir: Path, subject: str) -> Path:
    """Where a recording goes in the runs folder unless --out says: named by its UTC start, then what ran
    (`scenario_subject`, "drill-...", "gameday"), so that names sort by time and say what they hold."""
    return runs_dir / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{subject}"


def scenario_subject(scenario: str, variant: str | None) -> str:
    return f"{scenario}-{variant}" if variant else scenario


def named_subject(name: str) -> str | None:
    """What a run directory named by the lab holds (`new_run_dir`); None for a name it was given."""
    stamped = STAMPED_NAME.fullmatch(name)
    return stamped["subject"] if stamped else None


def check_run_dir(path: Path) -> None:
    """Say in one line why `path` cannot become the run directory, creating nothing: a bad --out is invalid input,
    found before Docker is asked anything."""
    problem = uncreatable(path)
    if problem is not None:
        raise InvalidInput(f"cannot write the run directory {path}: {problem}")


def uncreatable(path: Path) -> str | None:
    """Why `path` (or, if it exists, what goes in it) cannot be created, creating nothing: the nearest ancestor that
    exists decides whether the rest can be; None if it can."""
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    return None


def prepare_run_dir(path: Path) -> Path:
    """Create the run directory, or say in one line why it cannot be written (before anything starts)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".writable"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise InvalidInput(f"cannot write the run directory {path}: {exc.strerror or exc}") from exc
    return path


def write_scenario(run_dir: Path, scenario: Scenario, speed: float) -> None:
    document = dict(scenario.document)
    document["time"] = {**(document.get("time") or {}),
                        "seconds_per_incident_minute": scenario.time.seconds_per_incident_minute}
    if scenario.time.pace:
        document["time"]["pace"] = [change.model_dump(by_alias=True) for change in scenario.time.pace]
    document["traffic"] = {**(document.get("traffic") or {}), "rate": scenario.traffic.rate}
    if scenario.stack is not None:  # the recording lives elsewhere: its paths must not depend on where it is
        document["stack"] = {**document["stack"], "compose_file": scenario.stack.compose_file}
    document["timeline"] = [
        {**raw, "script": str(scenario.base_dir / raw["script"])}
        if isinstance(raw, dict) and isinstance(raw.get("script"), str) else raw
        for raw in document.get("timeline") or []]
    header = f"# scenario {scenario.name} as run (speed {speed:g}x)\n"
    (run_dir / "scenario.yaml").write_text(header + yaml.safe_dump(document, sort_keys=False))


JUDGING = 2
"""How the checks judge, numbered: raised when one judges a recording differently, so that summaries cached by an
earlier judging are judged again rather than trusted (`lab runs`, `lab compare`, a report's neighbours). 2: an
answer slower than the recovery's latency counts as failed in the steady state, which holds only the requests
decided before the fault."""


def summary_document(run_id: str, scenario: Scenario, speed: float, analysis: Analysis,
                     checks: list[CheckResult]) -> dict[str, Any]:
    return {
        "judging": JUDGING,
        "run_id": run_id,
        "scenario": scenario.name,
        "title": scenario.title,
        "variant": scenario.variant.name if scenario.variant else None,
        "measure": scenario.variant.measure if scenario.variant else None,
        "speed": speed,
        "seconds_per_incident_minute": scenario.time.seconds_per_incident_minute,
        "verdict": verdict_of(analysis, checks),
        "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in checks],
        **analysis.to_dict(),
    }


def verdict_of(analysis: Analysis, checks: list[CheckResult]) -> str:
    """"partial" (cut short), "unreliable" (a check of the recording itself failed: the other checks cannot be
    trusted), "fail" or "pass"."""
    if analysis.partial:
        return "partial"
    if not all(c.passed for c in checks if c.of_recording):
        return "unreliable"
    return "pass" if all(c.passed for c in checks) else "fail"


def write_summary(run_dir: Path, document: dict[str, Any]) -> Path:
    path = run_dir / "summary.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


class _Read(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class _Stats(_Read):
    error_rate: float | None = None
    p95_s: float | None = None


class _Window(_Read):
    overall: _Stats


class _Named(_Read):
    name: str


class _Milestone(_Named):
    t: float


class _Interval(_Named):
    seconds: float


class _Check(_Named):
    passed: bool


class RunFigures(_Read):
    """What names a recording and its impact in a summary.json: what a report reads of its neighbours'."""

    scenario: str
    variant: str | None = None
    verdict: Literal["pass", "fail", "partial", "unreliable"]
    fault: _Window | None = None
    impacted_s: float | None = None
    impact_share: float | None = None


class Summary(RunFigures):
    """What `lab runs` and `lab compare` read of a summary.json: all of it that they show."""

    judging: int
    """JUDGING when written: a summary of an earlier judging is judged again."""
    milestones: list[_Milestone]
    intervals: list[_Interval]
    checks: list[_Check]
    steady: _Window | None = None
    after_restart: _Window | None = None
    after_recovery: _Window | None = None

    @field_validator("judging")
    @classmethod
    def _current(cls, judging: int) -> int:
        if judging < JUDGING:  # a later lab's judging is kept: two versions sharing a folder would undo each other
            raise ValueError(f"judged by checks {judging}, older than the current {JUDGING}")
        return judging


def judged_now(document: dict[str, Any]) -> bool:
    """The summary was written by the current checks' judging, or a later one's."""
    judging = document.get("judging")
    return isinstance(judging, int) and judging >= JUDGING


def read_summary(run_dir: Path, shape: type[RunFigures] = Summary) -> dict[str, Any] | None:
    """summary.json as written, if it can be read and has `shape`; else None. It is a cache of what the recording
    says (`judge`): one that is missing, cut short, edited or unreadable is judged again, not trusted."""
    try:
        document = json.loads((run_dir / "summary.json").read_bytes())
        shape.model_validate(document)
    except (OSError, ValueError, RecursionError):  # unreadable; not text, not JSON, of another shape: ValueErrors
        return None
    checked: dict[str, Any] = document
    return checked


def write_junit(run_dir: Path, scenario_name: str, checks: list[CheckResult], partial_reason: str | None) -> Path:
    """`partial_reason`: why the recording is partial, None if it is complete."""
    suite = ET.Element("testsuite", name=f"outage-lab.{scenario_name}", tests=str(len(checks)),
                       failures=str(sum(not c.passed for c in checks)))
    for check in checks:
        case = ET.SubElement(suite, "testcase", classname=f"outage-lab.{scenario_name}", name=check.name)
        if not check.passed:
            ET.SubElement(case, "failure", message=check.detail).text = check.detail
        else:
            ET.SubElement(case, "system-out").text = check.detail
    if partial_reason is not None:
        ET.SubElement(suite, "system-err").text = f"recording partial: {partial_reason}"
    path = run_dir / "junit.xml"
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
    return path
