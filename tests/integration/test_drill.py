"""Drills on real Docker, with a scripted trainee playing from "another terminal" through the real CLI."""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path
from typing import Any

import pytest

from lab import lifecycle
from lab.images import LabImages

from .helpers import events_of, lab_cli, leftovers, start_lab, wait_for_event

pytestmark = pytest.mark.docker


def start_drill(tmp_path: Path) -> tuple[Any, Path, dict[str, str]]:
    env = {"LAB_RUNS_DIR": str(tmp_path / "runs")}
    out = tmp_path / "drill"
    process = start_lab("drill", "db-network-misconfig", "--inject-after", "5", "--max-duration", "240",
                        "--out", str(out), env=env)
    return process, out, env


def trainee(env: dict[str, str], *args: str) -> str:
    result = lab_cli(*args, env=env, timeout=120)
    assert result.returncode in (0, 1), result.stderr
    return result.stdout


def test_scripted_trainee_restarts_the_db_then_finds_and_fixes_the_fault(tmp_path: Path, engine: lifecycle.Engine,
                                                                        lab_images: LabImages) -> None:
    """The debrief has every interval, the DB restart is a mitigation tried without effect, nothing is left."""
    process, out, env = start_drill(tmp_path)
    wait_for_event(out, "alert.fired")
    run_id = next(e for e in events_of(out) if e["kind"] == "run.started")["run_id"]
    db_env = engine.client.containers.get(f"outage-lab-{run_id}-db-1").attrs["Config"]["Env"]
    password = next(item.split("=", 1)[1] for item in db_env if item.startswith("POSTGRES_PASSWORD="))
    trainee(env, "ack")
    trainee(env, "restart", "db")
    time.sleep(3)
    trainee(env, "note", "db restart changed nothing; only requests served by app-2 fail")
    probe = lab_cli("exec", "app-2", "python3", "-c",
                    "import socket; socket.create_connection(('db', 5432), timeout=2)", env=env)
    assert probe.returncode != 0  # app-2 cannot reach the database...
    rules = trainee(env, "exec", "--netns", "app-2", "iptables", "-S", "OUTPUT")
    drop = next(line for line in rules.splitlines() if line.startswith("-A OUTPUT") and "DROP" in line)
    trainee(env, "exec", "--netns", "app-2", "iptables", *(["-D", *shlex.split(drop)[1:]]))
    stdout, stderr = process.communicate(timeout=180)
    assert process.returncode == 0, stdout[-2000:] + stderr[-2000:]
    result = json.loads((out / "debrief.json").read_text())
    assert result["outcome"] == "fixed"
    for interval in ("acknowledged_s", "identified_s", "mitigated_s", "recovered_s"):
        assert result[interval] is not None and result[interval] >= 0, interval
    assert result["acknowledged_s"] <= result["identified_s"] <= result["mitigated_s"] <= result["recovered_s"]
    assert any("restart db (no effect)" in line for line in result["mitigations_tried"])
    assert (result["original_identified_min"], result["original_mitigated_min"]) == (75, 90)
    assert "Drill debrief" in (out / "debrief.md").read_text()
    assert not (tmp_path / "runs" / ".active-drill").exists()
    assert leftovers(engine, run_id) == []
    # The database password is random per run and never leaves the containers' environment.
    assert len(password) >= 16
    assert password not in stdout + stderr
    for path in out.iterdir():
        assert password not in path.read_text(errors="replace"), path.name


def test_a_wrong_fix_does_not_count_and_giving_up_reverts_the_fault(tmp_path: Path, engine: lifecycle.Engine,
                                                                    lab_images: LabImages) -> None:
    """Restarting the DB is not recovery; `lab give-up` reveals the cause, reverts it and leaves nothing."""
    process, out, env = start_drill(tmp_path)
    wait_for_event(out, "fault.applied")
    trainee(env, "restart", "db")
    time.sleep(8)
    assert not any(e["kind"] == "drill.fixed" for e in events_of(out))
    hint = trainee(env, "hint")
    assert hint.startswith("hint 1/3:")
    revealed = trainee(env, "give-up")
    assert "app2-db-packets-dropped" in revealed
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stdout[-2000:] + stderr[-2000:]
    result = json.loads((out / "debrief.json").read_text())
    assert result["outcome"] == "gave up" and result["mitigated_s"] is None and result["hints_used"] == 1
    events = events_of(out)
    assert any(e["kind"] == "fault.reverted" for e in events)
    run_id = next(e for e in events if e["kind"] == "run.started")["run_id"]
    assert leftovers(engine, run_id) == []


def test_trainee_commands_without_a_drill_say_so(tmp_path: Path) -> None:
    """`lab ack` with no drill running: one line, exit 4."""
    result = lab_cli("ack", env={"LAB_RUNS_DIR": str(tmp_path)})
    assert result.returncode == 4 and "no drill is running" in result.stderr


