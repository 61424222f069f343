"""Drills on real Docker, with a scripted trainee playing from "another terminal" through the real CLI."""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from lab.drill.control import send
from lab.stack.engine import Engine
from lab.stack.images import LabImages
from tests.cli import lab_cli

from .helpers import events_of, leftovers, running_lab, wait_for, wait_for_event, wait_until

# Alone on the machine (make test runs the others two at a time): it plays whole `lab run`s, whose checks hold
# the generator to its schedule; a run beside it would take its CPU.
pytestmark = [pytest.mark.docker, pytest.mark.serial]


@contextmanager
def drill(tmp_path: Path, inject_after_s: float = 5) -> Iterator[tuple[subprocess.Popen[str], Path, dict[str, str]]]:
    env = {"LAB_RUNS_DIR": str(tmp_path / "runs")}
    out = tmp_path / "drill"
    with running_lab("drill", "db-network-misconfig", "--inject-after", f"{inject_after_s:g}",
                     "--max-duration", "240", "--out", str(out), env=env) as process:
        yield process, out, env


def trainee(env: dict[str, str], *args: str) -> str:
    result = lab_cli(*args, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def monitor_check_after(env: dict[str, str], out: Path, t: float) -> dict[str, Any]:
    """The drill's monitor state once it has verified the fault after `t` (or declared it fixed meanwhile)."""

    def judged() -> dict[str, Any] | None:
        info = send(Path(env["LAB_RUNS_DIR"]), {"op": "info"})
        fixed = any(e["kind"] == "drill.fixed" for e in events_of(out))
        return info if fixed or (info["fault_checked_t"] or 0) > t else None

    return wait_until(judged, f"a check of the fault after t={t}", timeout_s=30)


def test_scripted_trainee_restarts_the_db_then_finds_and_fixes_the_fault(tmp_path: Path, engine: Engine,
                                                                        lab_images: LabImages) -> None:
    """An ack before any alert is refused (exit 4, not recorded); the debrief has every interval, the DB restart is
    a mitigation tried without effect, nothing is left."""
    with drill(tmp_path, inject_after_s=8) as (process, out, env):
        run_id = wait_for_event(out, "run.started")["run_id"]
        pointer = tmp_path / "runs" / ".active-drill"
        wait_until(lambda: pointer if pointer.exists() else None, "the drill's control socket")
        early = lab_cli("ack", env=env)  # the fault lands 8 s in: no alert can have fired yet
        assert early.returncode == 4, early.stderr
        assert early.stderr.splitlines() == [
            "lab: error: no alert has fired yet: nothing to acknowledge (`lab note TEXT` records what you see)"]
        wait_for_event(out, "alert.fired", process=process)
        db_env = engine.client.containers.get(f"outage-lab-{run_id}-db-1").attrs["Config"]["Env"]
        password = next(item.split("=", 1)[1] for item in db_env if item.startswith("POSTGRES_PASSWORD="))
        assert trainee(env, "ack") == "alert acknowledged\n"
        trainee(env, "restart", "db")
        restarted = wait_for(out, lambda e: e["kind"] == "docker.container" and e["action"] == "restart"
                             and e["service"] == "db", "the db restart")
        wait_for(out, lambda e: e["kind"] == "docker.health" and e["service"] == "db" and e["health"] == "healthy"
                 and e["t"] > restarted["t"], "the db healthy again after its restart")
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
    events = events_of(out)
    fired_t = next(e["t"] for e in events if e["kind"] == "alert.fired")
    assert [e["t"] > fired_t for e in events if e["kind"] == "drill.ack"] == [True]  # the early ack left no trace
    assert "Drill debrief" in (out / "debrief.md").read_text()
    assert not pointer.exists()
    assert leftovers(engine, run_id) == []
    # The database password is random per run and never leaves the containers' environment.
    assert len(password) >= 16
    assert password not in stdout + stderr
    for path in out.iterdir():
        assert password not in path.read_text(errors="replace"), path.name


def test_a_wrong_fix_does_not_count_and_giving_up_reverts_the_fault(tmp_path: Path, engine: Engine,
                                                                    lab_images: LabImages) -> None:
    """Restarting the DB is not recovery; `lab give-up` reveals the cause, reverts it and leaves nothing."""
    with drill(tmp_path) as (process, out, env):
        wait_for_event(out, "fault.applied", process=process)
        trainee(env, "restart", "db")
        restarted = wait_for(out, lambda e: e["kind"] == "docker.container" and e["action"] == "restart"
                             and e["service"] == "db", "the db restart")
        after_restart = monitor_check_after(env, out, restarted["t"])
        assert not any(e["kind"] == "drill.fixed" for e in events_of(out))
        assert after_restart["fault_in_place"] is True
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
    """`lab ack` and `lab deploy` with no drill running: one line, exit 4."""
    for command in (("ack",), ("deploy", "app-2", "current")):
        result = lab_cli(*command, env={"LAB_RUNS_DIR": str(tmp_path)})
        assert result.returncode == 4 and "no drill is running" in result.stderr, (command, result.stderr)


def test_a_trainee_rolls_back_a_bad_release_with_lab_deploy(tmp_path: Path, engine: Engine,
                                                           lab_images: LabImages) -> None:
    """The Knight Capital drill: a bad release lands on app-2. A deploy of an unknown release, or to the database,
    is refused in one line (exit 2) and changes nothing; `lab deploy app-2 current` rolls it back, the drill
    credits the fix to it, and the recording has the deploy's events."""
    env = {"LAB_RUNS_DIR": str(tmp_path / "runs")}
    out = tmp_path / "drill"
    with running_lab("drill", "knight-2012-partial-deploy", "--inject-after", "5", "--max-duration", "240",
                     "--out", str(out), env=env) as process:
        applied = wait_for_event(out, "fault.applied", process=process)
        assert applied["detail"] == "app-2 rolled from release current to unmigrated-table", applied
        for bad, said in ((("app-2", "v9"), "unknown release 'v9' (releases: current, unmigrated-table"),
                          (("db", "current"), "'db' is not an app service (apps: app-1, app-2, app-3)")):
            refused = lab_cli("deploy", *bad, env=env)
            assert refused.returncode == 2 and said in refused.stderr, refused.stderr
        said = trainee(env, "deploy", "app-2", "current")
        assert said.startswith("app-2 on release current"), said
        stdout, stderr = process.communicate(timeout=180)
    assert process.returncode == 0, stdout[-2000:] + stderr[-2000:]
    result = json.loads((out / "debrief.json").read_text())
    assert result["outcome"] == "fixed" and result["mitigated_s"] is not None
    events = events_of(out)
    kinds = [e["kind"] for e in events]
    assert kinds.count("deploy.started") == kinds.count("deploy.replaced") == kinds.count("deploy.done") == 1
    replaced = next(e for e in events if e["kind"] == "deploy.replaced")
    assert (replaced["service"], replaced["previous"], replaced["release"], replaced["serving"]) == \
        ("app-2", "unmigrated-table", "current", True)
    lost = next(e for e in events if e["kind"] == "fault.lost")
    # Credited to the trainee's deploy, or to what the engine saw of it (app-2's container replaced).
    assert lost["by"] == "trainee's deploy" or lost["by"].startswith("docker.container app-2 "), lost
    assert leftovers(engine, next(e for e in events if e["kind"] == "run.started")["run_id"]) == []


