"""Nothing left behind, nothing lost, nothing outside the lab touched: on real Docker, with real signals."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from lab import lifecycle
from lab.images import LabImages
from lab.stack import project_name

from .helpers import checks_of, events_of, lab_cli, leftovers, start_lab, summary_of, wait_for_event

pytestmark = pytest.mark.docker


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_mid_fault_reverts_tears_down_and_marks_the_recording_partial(
    tmp_path: Path, engine: lifecycle.Engine, lab_images: LabImages, signum: int, exit_code: int
) -> None:
    """Ctrl-C or SIGTERM while the fault is applied: exit 130/143, fault reverted, stack gone, partial summary."""
    out = tmp_path / "run"
    process = start_lab("run", "db-network-misconfig", "--out", str(out))
    wait_for_event(out, "fault.applied")
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


def test_lab_never_touches_containers_it_did_not_create(engine: lifecycle.Engine, lab_images: LabImages) -> None:
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
    tmp_path: Path, engine: lifecycle.Engine, lab_images: LabImages
) -> None:
    """Killing app-1 during the fault: the run still ends, with a verdict, the kill on the timeline, nothing left."""
    out = tmp_path / "run"
    process = start_lab("run", "db-network-misconfig", "--speed", "5", "--out", str(out))
    wait_for_event(out, "fault.applied")
    run_id = wait_for_event(out, "run.started")["run_id"]
    engine.client.containers.get(f"{project_name(run_id)}-app-1-1").kill()
    _, stderr = process.communicate(timeout=300)
    assert process.returncode in (0, 1), stderr
    summary = summary_of(out)
    assert summary["verdict"] in ("pass", "fail")
    assert any(e["kind"] == "docker.container" and e["action"] == "die" and e["service"] == "app-1"
               for e in events_of(out))
    assert leftovers(engine, run_id) == []


def test_recorder_loses_no_request_at_five_times_the_default_rate(tmp_path: Path, engine: lifecycle.Engine,
                                                                   lab_images: LabImages) -> None:
    """At 100 requests/s through the fault, every request sent is in the recording."""
    out = tmp_path / "run"
    result = lab_cli("run", "db-network-misconfig", "--speed", "10", "--rate", "100", "--out", str(out))
    summary = summary_of(out)
    assert summary["traffic"]["sent"] == summary["traffic"]["recorded"] > 0
    assert result.returncode in (0, 1)
    assert checks_of(summary)["no acknowledged write lost"] is True
