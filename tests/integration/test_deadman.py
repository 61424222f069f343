"""kill -9 leaves nothing, with no further command: the fault's helper reverts the moment the lab process is gone
(its stdin ends), and the run's reaper removes the whole stack a few seconds later. Looked at from outside: the
rule from a NET_ADMIN helper in app-2's own network namespace, the resources by their labels."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from lab.drill.control import NOTHING_RUNNING, POINTER, control_socket
from lab.stack import labels
from lab.stack.engine import Engine
from lab.stack.images import LabImages
from lab.stack.labels import project_name
from lab.stack.scratch import scratch_directory
from tests.cli import lab_cli, start_lab

from .helpers import NotYet, leftovers, seed, summary_of, wait_for_event

pytestmark = pytest.mark.docker

GONE_WITHIN_S = 30.0
"""A bound far above what is measured (under 1 s for the fault, under 10 s for the stack) and far below any TTL
(the fault's is 60 s past its window): what removed them can only be the dead-man switch and the reaper."""


def fault_rule_present(engine: Engine, lab_images: LabImages, run_id: str) -> bool | None:
    """Whether app-2's own network namespace holds this run's rule; None once app-2 itself is gone."""
    try:
        app2 = engine.client.containers.get(f"{project_name(run_id)}-app-2-1")
        output = engine.client.containers.run(
            lab_images.tools, ["iptables", "-S", "OUTPUT"], remove=True, network_mode=f"container:{app2.id}",
            cap_drop=["ALL"], cap_add=["NET_ADMIN"],
            labels={**labels.run_labels(run_id, labels.ROLE_FAULT), labels.PROBE: "true"})
    except Exception:  # app-2 removed (by the reaper) between the lookup and the probe
        return None
    return f"outage-lab:{run_id}:" in output.decode()


def seconds_until(condition: str, check: Callable[[], bool], timeout_s: float = GONE_WITHIN_S) -> float:
    started = time.monotonic()

    def done() -> None:
        if not check():
            raise NotYet(condition)

    Retrying(stop=stop_after_delay(timeout_s), wait=wait_fixed(0.05), retry=retry_if_exception_type(NotYet),
             reraise=True)(done)
    return time.monotonic() - started


def kill_and_time(process: subprocess.Popen[str], engine: Engine, lab_images: LabImages,
                  run_id: str) -> tuple[float, float]:
    """SIGKILL the lab process; seconds until its fault is gone, and until nothing of its run is left."""
    process.kill()
    killed = time.monotonic()
    process.wait(timeout=10)
    seconds_until("rule gone", lambda: not fault_rule_present(engine, lab_images, run_id))
    fault_gone_s = time.monotonic() - killed
    seconds_until("run removed", lambda: leftovers(engine, run_id) == [])
    return fault_gone_s, time.monotonic() - killed


@pytest.fixture
def look_alike(engine: Engine, lab_images: LabImages) -> Iterator[str]:
    """A container that looks like the lab's (same labels but another run's id) and must outlive any reaper."""
    container = engine.client.containers.run(lab_images.tools, ["sleep", "600"], detach=True, labels={
        labels.MANAGED: "true", labels.RUN: "20990101t000000-0000", labels.ROLE: labels.ROLE_STACK,
        "com.docker.compose.service": "app-2"})
    yield container.id
    container.remove(force=True)


@pytest.mark.parametrize(("stage", "fault_applied"), [
    ("step.prepared", False),     # the fault's helper is armed; nothing applied yet
    ("fault.applied", True),      # just after the fault landed
    ("action.restarted", True),   # during a responder's action (the database restart)
    ("writes.checking", False),   # during the check of the acknowledged writes (faults already reverted)
    ("run.ended", False),         # during teardown
])
def test_kill_9_at_each_stage_leaves_nothing_without_another_command(
    tmp_path: Path, engine: Engine, lab_images: LabImages, look_alike: str, stage: str,
    fault_applied: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGKILL of `lab run` at STAGE: the fault is gone within a second or so and nothing of the run is left a few
    seconds later, without any lab command; a look-alike container of another run is untouched."""
    out = tmp_path / "run"
    process = start_lab("run", seed(tmp_path), "--speed", "7", "--out", str(out))
    run_id = wait_for_event(out, "run.started")["run_id"]
    wait_for_event(out, stage, timeout_s=240)
    if fault_applied:
        assert fault_rule_present(engine, lab_images, run_id)
    fault_gone_s, all_gone_s = kill_and_time(process, engine, lab_images, run_id)
    assert engine.client.containers.get(look_alike).status == "running"
    with capsys.disabled():
        print(f"\n[kill -9 at {stage}] fault gone {fault_gone_s:.2f} s, everything gone {all_gone_s:.1f} s after "
              f"SIGKILL")


def test_kill_9_of_a_drill_mid_fault_leaves_nothing(tmp_path: Path, engine: Engine,
                                                    lab_images: LabImages, capsys: pytest.CaptureFixture[str]) -> None:
    """The same for `lab drill`: its fault helper and reaper are the run's, so a killed drill cleans itself up."""
    out = tmp_path / "drill"
    runs = tmp_path / "runs"
    process = start_lab("drill", "db-network-misconfig", "--inject-after", "3", "--out", str(out),
                        env={"LAB_RUNS_DIR": str(runs)})
    run_id = wait_for_event(out, "run.started")["run_id"]
    wait_for_event(out, "fault.applied")
    assert fault_rule_present(engine, lab_images, run_id)
    fault_gone_s, all_gone_s = kill_and_time(process, engine, lab_images, run_id)
    assert (scratch_directory(run_id) / "override.yaml").is_file()  # the reaper cannot reach the host's files
    assert control_socket(run_id).is_socket() and (runs / POINTER).is_file()  # as the killed drill left them
    assert lab_cli("status").returncode == 0  # every lab command removes those of dead runs first
    assert not scratch_directory(run_id).exists() and not control_socket(run_id).exists()
    ack = lab_cli("ack", env={"LAB_RUNS_DIR": str(runs)})  # its pointer is left, and says nothing runs
    assert (ack.returncode, ack.stderr.strip()) == (4, f"lab: error: {NOTHING_RUNNING}")
    assert not (runs / POINTER).exists()
    with capsys.disabled():
        print(f"\n[kill -9 drill] fault gone {fault_gone_s:.2f} s, everything gone {all_gone_s:.1f} s after SIGKILL")


def test_two_runs_at_once_one_killed_the_other_untouched_and_passing(tmp_path: Path, engine: Engine,
                                                                     lab_images: LabImages) -> None:
    """Two runs side by side (their own names, ports, networks and directories); one is killed: its reaper removes
    its own run only, and the other goes on and passes."""
    survivor_out, victim_out = tmp_path / "survivor", tmp_path / "victim"
    survivor = start_lab("run", seed(tmp_path), "--speed", "5", "--out", str(survivor_out))
    victim = start_lab("run", seed(tmp_path), "--speed", "5", "--out", str(victim_out))
    victim_id = wait_for_event(victim_out, "run.started")["run_id"]
    survivor_id = wait_for_event(survivor_out, "run.started")["run_id"]
    assert victim_id != survivor_id
    wait_for_event(victim_out, "fault.applied")
    victim.kill()
    victim.wait(timeout=10)
    seconds_until("victim removed", lambda: leftovers(engine, victim_id) == [])
    stdout, stderr = survivor.communicate(timeout=400)
    assert survivor.returncode == 0, stdout[-2000:] + stderr[-2000:]
    assert summary_of(survivor_out)["verdict"] == "pass"
    assert leftovers(engine, survivor_id) == []
