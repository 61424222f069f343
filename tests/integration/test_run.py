"""`lab run` on real Docker with a real injected fault: the documented recovery, a real runbook, passes; and a
scenario without its fault fails the impact check. (Stale runbooks: test_runbook.py.)"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from lab import lifecycle
from lab.images import LabImages

from .helpers import checks_of, events_of, lab_cli, leftovers, summary_of, variant

pytestmark = pytest.mark.docker

SPEED = "5"  # 150 incident minutes in 30 s: every window still holds hundreds of requests


def lab_run(scenario: str | Path, out: Path) -> subprocess.CompletedProcess[str]:
    return lab_cli("run", str(scenario), "--speed", SPEED, "--out", str(out))


def test_documented_recovery_passes_with_real_impact(tmp_path: Path, engine: lifecycle.Engine,
                                                     lab_images: LabImages) -> None:
    """The seed scenario exits 0; a third of requests fail slowly, all on app-2; its runbook (a script of the
    responders' deleting the rule through `lab exec --netns`) removed the fault, the lab did not; nothing is left."""
    out = tmp_path / "run"
    result = lab_run("db-network-misconfig", out)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert {p.name for p in out.iterdir()} >= {"scenario.yaml", "events.jsonl", "summary.json", "junit.xml"}
    summary = summary_of(out)
    assert summary["verdict"] == "pass" and all(checks_of(summary).values())
    fault = summary["fault"]
    assert 0.2 <= fault["overall"]["error_rate"] <= 0.5
    # Not 100%: app-2 requests still waiting for a pool connection (3 s) when the fix lands then succeed.
    assert fault["per_replica"]["app-2"]["error_rate"] > 0.7
    assert fault["per_replica"]["app-1"]["error_rate"] < 0.1
    assert fault["overall"]["failure_p50_s"] >= 1.0  # slow pages, then failures
    assert {i["name"] for i in summary["intervals"]} >= {"detect", "mitigate", "recover"}
    events = events_of(out)
    db_errors = {e["error_class"] for e in events if e["kind"] == "app.db_error" and e["replica"] == "app-2"}
    assert db_errors & {"psycopg.errors.ConnectionTimeout", "psycopg_pool.PoolTimeout"}
    restarts = [e for e in events if e["kind"] == "docker.container" and e["action"] == "restart"]
    assert [e["service"] for e in restarts] == ["db"]
    runbook = [e for e in events if e["kind"] == "runbook.finished"]
    assert [(e["where"], e["exit_code"]) for e in runbook] == [("netns", 0), ("host", 0)]
    assert "-j DROP" in runbook[0]["output"] and "reaches db:5432 again" in runbook[1]["output"]
    lost = [e for e in events if e["kind"] == "fault.lost"]
    assert [(e["fault"], e["by"]) for e in lost] == [("app2-db-packets-dropped", "runbook step 5")]
    assert not any(e["kind"] == "fault.cleanup" for e in events)
    junit = ET.parse(out / "junit.xml").getroot()
    assert int(junit.attrib["tests"]) == len(summary["checks"]) and junit.get("failures") == "0"
    assert leftovers(engine, summary["run_id"]) == []


def test_scenario_without_its_fault_fails_the_impact_check(tmp_path: Path, engine: lifecycle.Engine,
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
