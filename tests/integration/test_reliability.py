"""Nothing left behind, nothing lost, nothing outside the lab touched: on real Docker, with real signals."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from lab import labels, lifecycle
from lab.images import LabImages
from lab.stack import project_name

from .helpers import NotYet, checks_of, events_of, lab_cli, leftovers, start_lab, summary_of, variant, wait_for_event

pytestmark = pytest.mark.docker


def fault_rule_present(engine: lifecycle.Engine, lab_images: LabImages, run_id: str) -> bool:
    """Look at app-2's network namespace itself (not at what the lab believes) for this run's DROP rule."""
    app2 = f"{project_name(run_id)}-app-2-1"
    output = engine.client.containers.run(lab_images.tools, ["iptables", "-S", "OUTPUT"], remove=True,
                                          network_mode=f"container:{app2}", cap_drop=["ALL"], cap_add=["NET_ADMIN"],
                                          labels=labels.run_labels(run_id, labels.ROLE_FAULT))
    return f"outage-lab:{run_id}:" in output.decode()


def test_kill_9_mid_fault_the_fault_reverts_by_its_ttl_and_the_next_command_reaps_the_run(
    tmp_path: Path, engine: lifecycle.Engine, lab_images: LabImages, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGKILL cannot run any cleanup: the helper's TTL removes the rule, and `lab status` removes the stack."""
    ttl_s = 8

    def short_ttl(document: dict[str, Any]) -> None:
        document["faults"][0]["ttl_s"] = ttl_s

    out = tmp_path / "run"
    process = start_lab("run", str(variant(tmp_path, short_ttl)), "--out", str(out))
    applied = wait_for_event(out, "fault.applied")
    run_id = wait_for_event(out, "run.started")["run_id"]
    helper = engine.client.containers.get(f"{project_name(run_id)}-fault-app2-db-packets-dropped")
    assert helper.attrs["HostConfig"]["CapAdd"] == ["NET_ADMIN"]
    assert helper.attrs["HostConfig"]["CapDrop"] == ["ALL"]
    process.kill()
    killed_at = time.monotonic()
    process.wait(timeout=10)
    assert fault_rule_present(engine, lab_images, run_id)

    def rule_gone() -> None:
        if fault_rule_present(engine, lab_images, run_id):
            raise NotYet("rule still there")

    Retrying(stop=stop_after_delay(ttl_s + 20), wait=wait_fixed(0.5), retry=retry_if_exception_type(NotYet),
             reraise=True)(rule_gone)
    stayed_s = time.monotonic() - killed_at
    with capsys.disabled():
        print(f"\n[kill -9] fault applied at t={applied['t']:.1f}s, TTL {ttl_s} s; "
              f"rule stayed {stayed_s:.1f} s after the runner was killed")
    assert leftovers(engine, run_id) != []  # the stack is still there until a lab command runs
    status = lab_cli("status")
    assert status.returncode == 0 and f"removed the leftovers of run {run_id}" in status.stderr
    assert leftovers(engine, run_id) == []


@pytest.mark.parametrize("moment", ["step.prepared", "run.ended"])
def test_kill_9_before_the_fault_or_during_teardown_leaves_nothing_after_the_next_command(
    tmp_path: Path, engine: lifecycle.Engine, lab_images: LabImages, moment: str
) -> None:
    """SIGKILL while only the fault's helper is armed (no rule yet), or while the stack is being torn down: the
    next lab command finds the dead run by its owner label and removes all of it."""
    out = tmp_path / "run"
    process = start_lab("run", "db-network-misconfig", "--speed", "10", "--out", str(out))
    run_id = wait_for_event(out, "run.started")["run_id"]
    wait_for_event(out, moment, timeout_s=240)
    process.kill()
    process.wait(timeout=10)
    if moment == "step.prepared":
        assert not fault_rule_present(engine, lab_images, run_id)  # armed, not applied
    status = lab_cli("status")
    assert status.returncode == 0
    assert leftovers(engine, run_id) == []


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


def test_two_runs_at_once_do_not_collide_and_both_pass(tmp_path: Path, engine: lifecycle.Engine,
                                                       lab_images: LabImages) -> None:
    """Two `lab run`s side by side: separate names, ports, networks and run directories; both exit 0."""
    outs = [tmp_path / "first", tmp_path / "second"]
    processes = [start_lab("run", "db-network-misconfig", "--speed", "5", "--out", str(out)) for out in outs]
    results = [process.communicate(timeout=400) for process in processes]
    for process, (stdout, stderr) in zip(processes, results, strict=True):
        assert process.returncode == 0, stdout[-2000:] + stderr[-2000:]
    run_ids = {summary_of(out)["run_id"] for out in outs}
    assert len(run_ids) == 2
    for run_id in run_ids:
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
