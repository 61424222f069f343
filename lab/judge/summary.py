"""summary.json: a recording's judgement as a document (its verdict, checks, milestones, intervals and windows),
written beside it as a cache, and read back by the listings only while the judging that wrote it is current."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from lab.judge.analysis import Analysis
from lab.judge.checks.base import CheckResult
from lab.scenario.document import Scenario

JUDGING = 3
"""How the checks judge, numbered: raised when one judges a recording differently, so that summaries cached by an
earlier judging are judged again rather than trusted (`lab runs`, `lab compare`, a report's neighbours)."""


def summary_document(run_id: str, scenario: Scenario, speed: float, analysis: Analysis, checks: list[CheckResult],
                     verdict: str) -> dict[str, Any]:
    return {
        "judging": JUDGING,
        "run_id": run_id,
        "scenario": scenario.name,
        "title": scenario.title,
        "variant": scenario.variant.name if scenario.variant else None,
        "measure": scenario.variant.measure if scenario.variant else None,
        "speed": speed,
        "seconds_per_incident_minute": scenario.time.seconds_per_incident_minute,
        "verdict": verdict,
        "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in checks],
        **analysis.to_dict(),
    }


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
