"""The recordings in a runs folder, and two recordings side by side."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import InvalidInput
from lab.judge.summary import RunFigures, judged_now, read_summary
from lab.judge.verdict import judge_run, summary_of
from lab.record.run_dir import named_subject, scenario_subject

INTERVALS = ("detect", "identify", "mitigate", "recover", "user impact")


@dataclass(frozen=True)
class RunRow:
    run_dir: Path
    scenario: str
    verdict: str
    intervals: dict[str, float]
    fault_error_rate: float | None
    problem: str | None = None
    """Why the recording cannot be read (its verdict is then "unreadable")."""


JUDGING_FAILED = (OSError, InvalidInput, KeyError, TypeError, ValueError)
"""What judging a recording that cannot be read raises (KeyError...: what lab.record.schema does not check, should
judging need it)."""


def list_runs(runs_dir: Path, missing_ok: bool = True) -> list[RunRow]:
    """Newest first (run directories are named by their UTC start). A folder that does not exist has none yet
    (`missing_ok`: it is where the next run goes); a recording that cannot be read is listed as such, with why: one
    broken run does not hide the others."""
    try:
        entries = sorted(runs_dir.iterdir(), reverse=True)
    except FileNotFoundError as exc:
        if missing_ok:
            return []
        raise InvalidInput(f"no runs folder at {runs_dir}") from exc
    except OSError as exc:
        raise InvalidInput(f"cannot read the runs folder {runs_dir}: {exc.strerror or exc}") from exc
    return [row for row in map(_row, entries) if row is not None]


def _row(run_dir: Path) -> RunRow | None:
    """The listing's row of a recording; None for what is not one."""
    try:
        if not (run_dir / "scenario.yaml").is_file():
            return None
        summary = summary_of(run_dir)
    except OSError as exc:  # the run directory itself cannot be read
        return _unreadable(run_dir, f"cannot read {run_dir}: {exc.strerror or exc}")
    except InvalidInput as problem:
        return _unreadable(run_dir, str(problem))
    except JUDGING_FAILED as exc:
        return _unreadable(run_dir, f"{run_dir} cannot be judged: {type(exc).__name__}: {exc}")
    fault = summary.get("fault")
    return RunRow(run_dir=run_dir, scenario=summary["scenario"], verdict=summary["verdict"],
                  intervals={i["name"]: i["seconds"] for i in summary["intervals"]},
                  fault_error_rate=fault["overall"]["error_rate"] if fault else None)


def _unreadable(run_dir: Path, problem: str) -> RunRow:
    return RunRow(run_dir=run_dir, scenario="-", verdict="unreadable", intervals={}, fault_error_rate=None,
                  problem=problem)


def latest_run(runs_dir: Path, scenario: str, variant: str | None) -> tuple[Path, dict[str, Any]] | None:
    """The newest complete recording of `scenario` (with `variant`, None for none) in runs_dir, and its summary.
    Each report asks, and a runs folder only grows: a directory the lab named for something else is passed over by
    its name, so only the summaries of likely matches (and of directories named with --out) are read; one that
    cannot be read, or is not a summary, is passed over too (a report is not about it). One an earlier judging
    wrote is judged again (never rewritten: it is another run's), or passed over if it cannot be."""
    wanted = scenario_subject(scenario, variant)
    try:
        names = sorted((entry.name for entry in os.scandir(runs_dir)), reverse=True)
    except OSError:  # no runs folder (a run directory given with --out anywhere), or one that cannot be listed
        return None
    for name in names:
        if named_subject(name) not in (wanted, None):
            continue
        summary = read_summary(runs_dir / name, RunFigures)
        if summary is None or summary["scenario"] != scenario or summary.get("variant") != variant:
            continue
        if not judged_now(summary):  # its verdict is an earlier judging's
            try:
                summary = judge_run(runs_dir / name).summary
            except JUDGING_FAILED:
                continue
        if summary["verdict"] != "partial":
            return runs_dir / name, summary
    return None


@dataclass(frozen=True)
class ComparisonRow:
    section: str
    name: str
    a: str
    b: str
    difference: str


def compare(summary_a: dict[str, Any], summary_b: dict[str, Any]) -> list[ComparisonRow]:
    rows = [ComparisonRow("run", "verdict", summary_a["verdict"], summary_b["verdict"],
                          "" if summary_a["verdict"] == summary_b["verdict"] else "differs"),
            ComparisonRow("run", "variant", summary_a.get("variant") or "-", summary_b.get("variant") or "-", "")]
    milestones_a = {m["name"]: m["t"] for m in summary_a["milestones"]}
    milestones_b = {m["name"]: m["t"] for m in summary_b["milestones"]}
    for name in dict.fromkeys([*milestones_a, *milestones_b]):
        rows.append(_numeric("milestone (s)", name, milestones_a.get(name), milestones_b.get(name)))
    intervals_a = {i["name"]: i["seconds"] for i in summary_a["intervals"]}
    intervals_b = {i["name"]: i["seconds"] for i in summary_b["intervals"]}
    for name in INTERVALS:
        if name in intervals_a or name in intervals_b:
            rows.append(_numeric("interval (s)", name, intervals_a.get(name), intervals_b.get(name)))
    for window in ("steady", "fault", "after_restart", "after_recovery"):
        stats_a = (summary_a.get(window) or {}).get("overall") or {}
        stats_b = (summary_b.get(window) or {}).get("overall") or {}
        if stats_a or stats_b:
            rows.append(_numeric(f"{window} impact", "error rate %", _percent(stats_a.get("error_rate")),
                                 _percent(stats_b.get("error_rate"))))
            rows.append(_numeric(f"{window} impact", "p95 latency (s)", stats_a.get("p95_s"), stats_b.get("p95_s")))
            if stats_a.get("slow") or stats_b.get("slow"):
                rows.append(_numeric(f"{window} impact", "answered too slowly", stats_a.get("slow"),
                                     stats_b.get("slow"), digits=0))
    for name, key in (("users affected (s)", "impacted_s"), ("users affected (% of the fault)", "impact_share")):
        a, b = summary_a.get(key), summary_b.get(key)
        if a is not None or b is not None:
            scale = 100 if key == "impact_share" else 1
            rows.append(_numeric("user impact", name, None if a is None else a * scale,
                                 None if b is None else b * scale))
    checks_a = {c["name"]: c["passed"] for c in summary_a["checks"]}
    checks_b = {c["name"]: c["passed"] for c in summary_b["checks"]}
    for name in dict.fromkeys([*checks_a, *checks_b]):
        a, b = _verdict(checks_a.get(name)), _verdict(checks_b.get(name))
        rows.append(ComparisonRow("check", name, a, b, "" if a == b else "differs"))
    return rows


def _numeric(section: str, name: str, a: float | None, b: float | None, digits: int = 2) -> ComparisonRow:
    shown = [("-" if value is None else f"{value:.{digits}f}") for value in (a, b)]
    difference = "" if a is None or b is None else f"{b - a:+.{digits}f}"
    return ComparisonRow(section, name, shown[0], shown[1], difference)


def _percent(rate: float | None) -> float | None:
    return None if rate is None else rate * 100


def _verdict(passed: bool | None) -> str:
    return "-" if passed is None else ("PASS" if passed else "FAIL")
