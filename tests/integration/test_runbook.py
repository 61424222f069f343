"""Runbooks tested for real: `lab run --runbook FILE` plays the responders' steps of a separate file, the lab fixes
nothing for them, and a runbook that has gone stale fails the run with the reason, while any fix that works
passes. Each test replaces the seed scenario's runbook and keeps its incident."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.stack.compose import bundled_compose
from lab.stack.engine import Engine
from lab.stack.images import LabImages
from tests.cli import lab_cli, start_lab

from .helpers import checks_of, events_of, leftovers, seed, summary_of, wait_for_event

# Alone on the machine (make test runs the others two at a time): it plays whole `lab run`s, whose checks hold
# the generator to its schedule; a run beside it would take its CPU.
pytestmark = [pytest.mark.docker, pytest.mark.serial]

SPEED = "7"  # 51 s a run; the fix's window (15 incident minutes) stays over 2 s long
IDENTIFY: dict[str, Any] = {"at": 75, "clock": "15:15", "action": "runbook", "milestone": "identified",
                            "netns": "app-2", "command": ["iptables", "-S", "OUTPUT"], "text": "Look at the filter"}


def run_with_runbook(tmp_path: Path, fix: dict[str, Any]) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The seed incident with a runbook file whose fix (at 15:30, the mitigation) is `fix`."""
    runbook = tmp_path / "runbook.yaml"
    runbook.write_text(yaml.safe_dump({"title": "test runbook", "steps": [
        IDENTIFY, {"at": 90, "clock": "15:30", "action": "runbook", "milestone": "mitigation", "timeout_s": 60,
                   "text": "The runbook's fix", **fix}]}))
    out = tmp_path / "run"
    return lab_cli("run", seed(tmp_path), "--speed", SPEED, "--runbook", str(runbook), "--out", str(out)), out


def test_a_runbook_deleting_the_wrong_rule_fails_with_the_reason(tmp_path: Path, engine: Engine,
                                                                  lab_images: LabImages) -> None:
    """A fix that deletes a rule with the wrong port: the step exits 1, the fault is still in effect, users do not
    recover: exit 1, and the verdict says so; the lab's cleanup removes the fault and is recorded as cleanup."""
    result, out = run_with_runbook(tmp_path, {"netns": "app-2", "command": [
        "iptables", "-D", "OUTPUT", "-p", "tcp", "--dport", "5433", "-j", "DROP"]})
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    summary = summary_of(out)
    checks = {check["name"]: check for check in summary["checks"]}
    fix = next(step for step in summary["steps"] if step["milestone"] == "mitigation")
    assert fix["ok"] is False and fix["detail"].startswith("runbook step exited 1")
    assert checks["the runbook removed the fault"]["passed"] is False
    assert "still in effect at cleanup: the runbook did not remove it" in checks["the runbook removed the fault"][
        "detail"]
    assert checks["recovered after the fix"]["passed"] is False
    events = events_of(out)
    assert [e["still_in_effect"] for e in events if e["kind"] == "fault.cleanup"] == [True]
    assert any(e["kind"] == "fault.reverted" and e["cleanup"] for e in events)
    assert "runbook step exited 1" in (out / "report.html").read_text()
    assert leftovers(engine, summary["run_id"]) == []


def test_any_fix_that_works_passes_restarting_app_2_with_docker_compose(tmp_path: Path, engine: Engine,
                                                                        lab_images: LabImages) -> None:
    """A team's own script that restarts app-2 with `docker-compose` (a clean network namespace) instead of the
    lab's revert: the fault is gone, users recover, exit 0; the script found the stack through its environment."""
    script = tmp_path / "restart-app-2.sh"
    script.write_text("#!/usr/bin/env bash\nset -eu\necho \"restarting $LAB_CONTAINER_APP_2\"\n"
                      "echo \"with $(command -v docker-compose)\"\ndocker-compose restart app-2\n")
    script.chmod(0o755)
    result, out = run_with_runbook(tmp_path, {"script": script.name})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    summary = summary_of(out)
    assert all(checks_of(summary).values())
    events = events_of(out)
    finished = [e for e in events if e["kind"] == "runbook.finished" and e["where"] == "host"]
    assert finished and finished[0]["exit_code"] == 0 and "restarting outage-lab-" in finished[0]["output"]
    # Compose's own binary, the lab's: the `docker-compose` script beside `lab` would report a failure as success
    assert f"with {bundled_compose()}" in finished[0]["output"]
    assert [e["by"] for e in events if e["kind"] == "fault.lost"] == ["runbook step 5"]
    assert any(e["kind"] == "docker.container" and e["action"] == "restart" and e["service"] == "app-2"
               for e in events)


def test_a_fault_removed_from_outside_is_said_so_not_taken_for_a_recovery(tmp_path: Path, engine: Engine,
                                                                         lab_images: LabImages) -> None:
    """Someone else deletes the fault's rule a few seconds after it landed (another terminal's `lab exec --run`):
    the run notices within about a second, records fault.lost, and the verdict says the fault was removed from
    outside at that time: exit 1, a distinct outcome from users recovering by themselves."""
    out = tmp_path / "run"
    process = start_lab("run", seed(tmp_path), "--speed", "5", "--out", str(out))
    run_id = wait_for_event(out, "run.started", process=process)["run_id"]
    applied = wait_for_event(out, "fault.applied", process=process)
    rules = lab_cli("exec", "--run", run_id, "--netns", "app-2", "--", "iptables", "-S", "OUTPUT").stdout
    rule = next(line for line in rules.splitlines() if f"outage-lab:{run_id}:" in line)
    deleted = lab_cli("exec", "--run", run_id, "--netns", "app-2", "--", "iptables",
                      *["-D", *rule.replace('"', "").split()[1:]])
    assert deleted.returncode == 0, deleted.stderr
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 1, stdout[-3000:] + stderr[-2000:]
    lost = [e for e in events_of(out) if e["kind"] == "fault.lost"]
    assert [(e["fault"], e["by"]) for e in lost] == [("app2-db-packets-dropped", "outside")]
    assert applied["t"] < lost[0]["t"] < applied["t"] + 15
    held = {c["name"]: c for c in summary_of(out)["checks"]}["each fault held until the scenario removed it"]
    assert held["passed"] is False
    assert held["detail"] == f"fault app2-db-packets-dropped was removed from outside at t={lost[0]['t']:.1f} s " \
                             "(by nothing the scenario did)"
