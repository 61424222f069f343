"""The lab as a pytest fixture, for a team's CI: `outage_lab.run(...)` plays a scenario (its own Compose stack or
the built-in one) and returns the judged result, with the run directory and report named in any failure message.

    def test_db_outage_recovers(outage_lab):
        result = outage_lab.run("scenarios/db.yaml", speed=10)
        assert result.check("recovered after the fix").passed

Registered through the `pytest11` entry point, so installing outage-lab is enough. Each run is the real `lab run`
command in a subprocess (its exit codes, its cleanup on a signal, its reaper), recorded under pytest's
temporary directory unless `runs_dir` says otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from lab.errors import EXIT_CHECK_FAILED, EXIT_OK
from lab.settings import ALLOW_SCRIPTS_OPTION


class LabRunError(Exception):
    """`lab run` did not judge the scenario (invalid input, no Docker, interrupted): its one-line error."""


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    detail: str
    report: Path

    def __repr__(self) -> str:  # what pytest shows when an assertion on it fails
        return f"<check {self.name!r}: {'PASS' if self.passed else 'FAIL'}: {self.detail}; report: {self.report}>"


@dataclass(frozen=True)
class LabResult:
    run_dir: Path
    exit_code: int
    summary: dict[str, Any] = field(repr=False)

    @property
    def verdict(self) -> str:
        return str(self.summary["verdict"])

    @property
    def passed(self) -> bool:
        return self.exit_code == EXIT_OK

    @property
    def report(self) -> Path:
        return self.run_dir / "report.html"

    @property
    def checks(self) -> list[CheckOutcome]:
        return [CheckOutcome(c["name"], bool(c["passed"]), str(c["detail"]), self.report)
                for c in self.summary["checks"]]

    def check(self, name: str) -> CheckOutcome:
        found = next((outcome for outcome in self.checks if outcome.name == name), None)
        if found is None:
            raise KeyError(f"no check named {name!r} in {self.run_dir} (checks: "
                           f"{', '.join(repr(c.name) for c in self.checks)})")
        return found

    def __repr__(self) -> str:
        failing = [c.name for c in self.checks if not c.passed]
        return (f"<outage-lab run {self.summary.get('scenario')}: {self.verdict.upper()}"
                f"{f' (failing: {failing})' if failing else ''}; report: {self.report}>")


@dataclass
class OutageLab:
    runs_dir: Path
    results: list[LabResult] = field(default_factory=list)

    def run(self, scenario: str | Path, *, speed: float | Literal["max"] = 1.0, variant: str | None = None,
            runbook: str | Path | None = None, rate: float | None = None, seed: int = 0,
            allow_scripts_in: Sequence[str | Path] = (), timeout_s: float = 3600) -> LabResult:
        """Play `scenario` (a path or a library name) and return its judged result. A failing check is a
        result (look at `.check(name).passed`); a run that could not be judged raises LabRunError.
        `allow_scripts_in`: directories runbook scripts may be in besides the scenario's (`--allow-scripts-in`)."""
        out = self.runs_dir / f"{len(self.results) + 1:02d}-{Path(str(scenario)).stem}"
        argv = [sys.executable, "-m", "lab.cli", "run", str(scenario), "--speed", str(speed), "--out", str(out),
                "--seed", str(seed)]
        argv += ["--variant", variant] if variant else []
        argv += ["--runbook", str(runbook)] if runbook else []
        argv += ["--rate", f"{rate:g}"] if rate else []
        argv += [argument for directory in allow_scripts_in for argument in (ALLOW_SCRIPTS_OPTION, str(directory))]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False,
                              env={**os.environ, "NO_COLOR": "1"})
        summary_path = out / "summary.json"
        if done.returncode not in (EXIT_OK, EXIT_CHECK_FAILED) or not summary_path.is_file():
            said = [line for line in done.stderr.splitlines() if line.startswith("lab: error:")]
            raise LabRunError(f"lab run {scenario} exited {done.returncode}: "
                              f"{said[-1] if said else done.stderr.strip()[-500:]}")
        result = LabResult(out, done.returncode, json.loads(summary_path.read_text()))
        self.results.append(result)
        return result


@pytest.fixture(scope="session")
def outage_lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> OutageLab:
    """Plays outage-lab scenarios; their recordings go to a temporary directory (or `--outage-lab-runs DIR`).
    Session-wide, so that a module can play a scenario once and judge it in several tests."""
    chosen = request.config.getoption("outage_lab_runs")
    runs_dir = Path(chosen) if chosen else tmp_path_factory.mktemp("outage-lab")
    runs_dir.mkdir(parents=True, exist_ok=True)
    lab = OutageLab(runs_dir)
    request.config.stash[LAB] = lab
    return lab


LAB = pytest.StashKey[OutageLab]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--outage-lab-runs", dest="outage_lab_runs", default=None,
                     help="Keep outage-lab recordings in this directory (default: pytest's temporary directory).")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> \
        Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test that played scenarios (through `outage_lab`, directly or through another fixture) names their
    recordings and reports in its failure output."""
    report = yield
    lab = item.config.stash.get(LAB, None)
    if report.failed and lab is not None and lab.results and "outage_lab" in getattr(item, "fixturenames", ()):
        report.sections.append(("outage-lab recordings", "\n".join(
            f"{r.summary.get('scenario')}: {r.verdict} -> {r.report}" for r in lab.results)))
    return report
