"""Judging a recording: its analysis and the scenario's checks give its verdict, written beside it as summary.json
and junit.xml. One entry (`judge`) for every reader: `lab run` at its end, `lab report`, `lab runs` and `lab
compare` (through `summary_of`, which trusts a current summary.json), the reports' comparison with neighbouring
runs. Only a run's own end and its own report write its files: the listings and reports of other runs never do."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.judge.analysis import Analysis, analyse
from lab.judge.checks import ChecksBase, evaluate
from lab.judge.checks.base import CheckResult
from lab.judge.checks.recovery import KIND as RECOVERY
from lab.judge.checks.recovery import RecoveryCheck
from lab.judge.junit import write_junit
from lab.judge.recording import Recording, read_recording
from lab.judge.requests import RecoveryCriteria
from lab.judge.summary import RunFigures, Summary, read_summary, summary_document
from lab.scenario.document import Scenario
from lab.scenario.settling import settle_times


@dataclass(frozen=True)
class Judgement:
    recording: Recording
    analysis: Analysis
    checks: list[CheckResult]
    summary: dict[str, Any]
    """summary.json's document."""

    @property
    def verdict(self) -> str:
        return str(self.summary["verdict"])

    def write(self) -> None:
        """summary.json and junit.xml in the run directory (OSError if it cannot be written)."""
        run_dir, analysis = self.recording.run_dir, self.analysis
        (run_dir / "summary.json").write_text(json.dumps(self.summary, indent=2) + "\n")
        write_junit(run_dir, self.recording.scenario.name, self.checks,
                    analysis.ended_reason if analysis.partial else None)


def recovery_rule(checks: ChecksBase) -> RecoveryCheck:
    """The recovery rule (users back to steady state): the scenario's, or the default one, with no deadline."""
    return checks.section(RECOVERY) or RecoveryCheck.model_construct(within_s=float("inf"))  # not a document


def recovery_criteria(scenario: Scenario) -> RecoveryCriteria:
    """When users count as back, by the scenario's recovery rule."""
    return recovery_rule(scenario.checks).criteria()


def judge(recording: Recording) -> Judgement:
    """The recording judged by the scenario it was played with."""
    scenario, events = recording.scenario, recording.events
    analysis = analyse(events, recovery_criteria(scenario), settle_times(scenario))
    results = evaluate(analysis, scenario.checks, scenario.traffic.max_lateness_p99_s)
    started = recording.started
    summary = summary_document(str(started.get("run_id", "")), scenario, float(started.get("speed", 1.0)), analysis,
                               results, verdict_of(analysis, results))
    return Judgement(recording, analysis, results, summary)


def judge_run(run_dir: Path) -> Judgement:
    """The recording of `run_dir`, read and judged."""
    return judge(read_recording(run_dir))


def summary_of(run_dir: Path, shape: type[RunFigures] = Summary) -> dict[str, Any]:
    """The run's summary: summary.json if the current judging wrote it and it has `shape`, else the recording judged
    again (in memory: a summary is a cache, rewritten only by the run's own report)."""
    return read_summary(run_dir, shape) or judge_run(run_dir).summary


def verdict_of(analysis: Analysis, checks: list[CheckResult]) -> str:
    """"partial" (cut short), "unreliable" (a check of the recording itself failed: the other checks cannot be
    trusted), "fail" or "pass"."""
    if analysis.partial:
        return "partial"
    if not all(c.passed for c in checks if c.of_recording):
        return "unreliable"
    return "pass" if all(c.passed for c in checks) else "fail"


