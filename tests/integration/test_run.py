"""`lab run` on real Docker: a scenario without its fault fails the impact check. (The documented recovery passing:
test_variants.py, whose first run is the seed as shipped; stale runbooks: test_runbook.py.)"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from lab.stack.engine import Engine
from lab.stack.images import LabImages
from tests.cli import lab_cli

from .helpers import checks_of, summary_of, variant

# Alone on the machine (make test runs the others two at a time): it plays whole `lab run`s, whose checks hold
# the generator to its schedule; a run beside it would take its CPU.
pytestmark = [pytest.mark.docker, pytest.mark.serial]

SPEED = "5"  # 150 incident minutes in 30 s: every window still holds hundreds of requests


def lab_run(scenario: str | Path, out: Path) -> subprocess.CompletedProcess[str]:
    return lab_cli("run", str(scenario), "--speed", SPEED, "--out", str(out))


def test_scenario_without_its_fault_fails_the_impact_check(tmp_path: Path, engine: Engine,
                                                           lab_images: LabImages) -> None:
    """With the fault removed nothing breaks, and the check that proves the fault took effect fails: exit 1."""

    def no_fault(document: dict[str, Any]) -> None:
        document["faults"] = []
        document["checks"].pop("fault_removed")
        for step in document["timeline"]:
            if step["action"] in ("apply", "revert"):
                step.pop("fault")
                step["action"] = "note"

    out = tmp_path / "run"
    result = lab_run(variant(tmp_path, no_fault), out)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert checks_of(summary_of(out))["impact observed during the fault"] is False
