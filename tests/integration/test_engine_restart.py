"""The Docker daemon restarted in the middle of a run or a drill (`systemctl restart docker`): it ends at once with
a clear verdict instead of hanging, checks that the writes it acknowledged survived, and leaves nothing behind.
Stopped for good: the run gives up after its wait, says what is left, and the next lab command removes it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from lab.stack.engine import Engine
from lab.stack.images import LabImages
from tests.cli import lab_cli, start_lab
from tests.figures import Figure

from .daemon import restart_dockerd, restartable_dockerd, start_dockerd, stop_dockerd
from .helpers import checks_of, events_of, leftovers, seed, summary_of, wait_for, wait_for_event

# Alone on the engine (make test runs the others two at a time): it restarts the Docker engine under every other run.
pytestmark = [pytest.mark.docker, pytest.mark.serial]


@pytest.fixture
def dockerd_pid(engine: Engine, lab_images: LabImages) -> int:
    pid, why_not = restartable_dockerd(engine.client)
    if pid is None:
        pytest.skip(f"will not restart this Docker daemon: {why_not}")
    return pid


def db_restart_under_way(event: dict[str, Any]) -> bool:
    return bool(event["kind"] == "docker.container" and event["action"] == "kill" and event["service"] == "db")


@pytest.mark.parametrize("when", ["fault.applied", "db restart"])
def test_docker_daemon_restarted_mid_fault_aborts_the_run_cleanly(
    tmp_path: Path, engine: Engine, dockerd_pid: int, figure: Figure, when: str
) -> None:
    """dockerd restarted while the fault is applied (as it lands; during the scenario's database restart, a step the
    engine's shutdown fails with an error of its own): exit 3 in one line saying the engine went away, recording
    partial with the reason, fault reverted, every acknowledged write found, nothing left."""
    out = tmp_path / "run"
    process = start_lab("run", seed(tmp_path), "--speed", "5", "--out", str(out))
    if when == "db restart":
        wait_for(out, db_restart_under_way, "the database's restart", timeout_s=180, process=process)
    else:
        wait_for_event(out, when, process=process)
    run_id = wait_for_event(out, "run.started")["run_id"]
    restart_started = time.monotonic()
    restart_dockerd(dockerd_pid)
    restarted_s = time.monotonic() - restart_started
    _, stderr = process.communicate(timeout=300)
    exited_s = time.monotonic() - restart_started

    assert process.returncode == 3, stderr[-2000:]
    last_line = stderr.strip().splitlines()[-1]
    assert last_line.startswith("lab: error: the Docker engine went away at t="), last_line
    events = events_of(out)
    kinds = [e["kind"] for e in events]
    assert kinds.index("engine.lost") < kinds.index("engine.returned") < kinds.index("run.ended")
    ended = events[kinds.index("run.ended")]
    assert ended["partial"] is True and ended["reason"].startswith("aborted: the Docker engine went away")
    assert ended["revert_problems"] == []
    summary = summary_of(out)
    assert summary["verdict"] == "partial" and summary["ended_reason"] == ended["reason"]
    writes = events[kinds.index("writes.verified")]
    assert writes["error"] is None and writes["acknowledged"] > 0 and writes["missing"] == [], writes
    assert checks_of(summary)["no acknowledged write lost"] is True
    assert leftovers(engine, run_id) == []
    lost = events[kinds.index("engine.lost")]
    figure(f"[engine restart at {when}, run] daemon down and up again in {restarted_s:.1f} s; the lab noticed at "
           f"t={lost['t']:.1f} s and exited {exited_s:.1f} s after the restart began; "
           f"{writes['found']} of {writes['acknowledged']} acknowledged writes found after it")


def test_docker_daemon_restarted_mid_drill_ends_the_drill_with_a_debrief(
    tmp_path: Path, engine: Engine, dockerd_pid: int, figure: Figure
) -> None:
    """dockerd restarted mid-drill: exit 3, a debrief saying the engine went away, nothing left and no active-drill
    pointer."""
    env = {"LAB_RUNS_DIR": str(tmp_path / "runs")}
    out = tmp_path / "drill"
    process = start_lab("drill", "db-network-misconfig", "--inject-after", "5", "--max-duration", "240",
                        "--out", str(out), env=env)
    wait_for_event(out, "fault.applied", process=process)
    run_id = wait_for_event(out, "run.started")["run_id"]
    restart_started = time.monotonic()
    restart_dockerd(dockerd_pid)
    stdout, stderr = process.communicate(timeout=300)
    exited_s = time.monotonic() - restart_started

    assert process.returncode == 3, stdout[-2000:] + stderr[-2000:]
    assert stderr.strip().splitlines()[-1].startswith("lab: error: the Docker engine went away at t=")
    result = json.loads((out / "debrief.json").read_text())
    assert result["outcome"] == "aborted: the Docker engine went away" and result["mitigated_s"] is None
    ended = next(e for e in events_of(out) if e["kind"] == "run.ended")
    assert ended["partial"] is True and ended["revert_problems"] == []
    assert not (tmp_path / "runs" / ".active-drill").exists()
    assert leftovers(engine, run_id) == []
    figure(f"[engine restart, drill] the drill exited {exited_s:.1f} s after the restart began")


def test_docker_daemon_stopped_for_good_mid_run_is_reaped_once_it_is_back(
    tmp_path: Path, engine: Engine, dockerd_pid: int
) -> None:
    """dockerd stopped for good mid-run: the run gives up after LAB_ENGINE_WAIT_S saying what is left, and the next lab
    command removes it."""
    out = tmp_path / "run"
    process = start_lab("run", seed(tmp_path), "--speed", "5", "--out", str(out),
                        env={"LAB_ENGINE_WAIT_S": "3"})
    wait_for_event(out, "fault.applied", process=process)
    run_id = wait_for_event(out, "run.started")["run_id"]
    stop_dockerd(dockerd_pid)
    try:
        _, stderr = process.communicate(timeout=120)
    finally:
        start_dockerd()

    assert process.returncode == 3, stderr[-2000:]
    assert stderr.strip().splitlines()[-1] == (
        f"lab: error: cannot remove run {run_id}: the Docker engine is not answering; the first lab command run "
        "once it is back removes it")
    kinds = [e["kind"] for e in events_of(out)]
    assert kinds.index("engine.lost") < kinds.index("engine.gone") < kinds.index("run.ended")
    assert summary_of(out)["verdict"] == "partial"
    assert leftovers(engine, run_id) != []  # stopped containers, until a lab command runs
    status = lab_cli("status")
    assert status.returncode == 0 and f"removed the leftovers of run {run_id}" in status.stderr
    assert leftovers(engine, run_id) == []
