"""Nothing left behind, nothing lost, nothing outside the lab touched: on real Docker, with real signals."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from lab.stack.engine import Engine
from lab.stack.images import LabImages
from lab.stack.labels import project_name
from tests.cli import lab_cli, start_lab

from .helpers import checks_of, events_of, leftovers, running_lab, summary_of, variant, wait_for_event

# Alone on the machine (make test runs the others two at a time): it plays whole `lab run`s, whose checks hold
# the generator to its schedule; a run beside it would take its CPU.
pytestmark = [pytest.mark.docker, pytest.mark.serial]


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_mid_fault_reverts_tears_down_and_marks_the_recording_partial(
    tmp_path: Path, engine: Engine, lab_images: LabImages, signum: int, exit_code: int
) -> None:
    """Ctrl-C or SIGTERM while the fault is applied: exit 130/143, fault reverted, stack gone, partial summary."""
    out = tmp_path / "run"
    process = start_lab("run", "db-network-misconfig", "--out", str(out))
    wait_for_event(out, "fault.applied", process=process)
    run_id = wait_for_event(out, "run.started")["run_id"]
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == exit_code, stderr
    assert stderr.strip().splitlines()[-1].startswith(f"lab: error: interrupted by {signal.Signals(signum).name}")
    events = events_of(out)
    assert any(e["kind"] == "fault.reverted" for e in events)
    ended = next(e for e in events if e["kind"] == "run.ended")
    assert ended["partial"] is True
    assert summary_of(out)["verdict"] == "partial"
    assert leftovers(engine, run_id) == []


def test_lab_never_touches_containers_it_did_not_create(engine: Engine, lab_images: LabImages) -> None:
    """`lab clean` removes lab runs only: a container without the lab's labels keeps running."""
    bystander = engine.client.containers.run(lab_images.tools, ["sleep", "120"], detach=True,
                                             labels={"com.docker.compose.service": "db"})
    try:
        assert lab_cli("clean").returncode == 0
        bystander.reload()
        assert bystander.status == "running"
    finally:
        bystander.remove(force=True)


def test_an_app_container_killed_mid_run_ends_in_a_verdict_not_a_hang(
    tmp_path: Path, engine: Engine, lab_images: LabImages
) -> None:
    """Killing app-1 as the fault lands: the run still ends, with its verdict (pass: the variant expects the higher
    error rate), the kill on the timeline, nothing left."""

    def one_replica_lost(document: dict[str, Any]) -> None:
        # With app-1 gone, app-2's failures are half of the traffic rather than a third.
        document["checks"]["impact"]["max_error_rate"] = 0.8

    out = tmp_path / "run"
    with running_lab("run", str(variant(tmp_path, one_replica_lost)), "--speed", "5", "--out", str(out)) as process:
        wait_for_event(out, "fault.applied", process=process)
        run_id = wait_for_event(out, "run.started")["run_id"]
        engine.client.containers.get(f"{project_name(run_id)}-app-1-1").kill()
        stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stdout[-3000:] + stderr[-2000:]
    summary = summary_of(out)
    assert summary["verdict"] == "pass" and all(checks_of(summary).values())
    events = events_of(out)
    died_t = next(e["t"] for e in events if e["kind"] == "docker.container" and e["action"] == "die"
                  and e["service"] == "app-1")
    # The replica was really lost: once HAProxy saw it go (2 s), no request reached it, and app-2 took half.
    served = [e["replica"] for e in events if e["kind"] == "request" and e["t"] > died_t + 2 and e["replica"]]
    assert "app-1" not in served and served.count("app-2") > 0.4 * len(served)
    assert leftovers(engine, run_id) == []
