"""kill -9 leaves nothing, with no further command: the fault's helper reverts the moment the lab process is gone
(its stdin ends), and the run's reaper removes the whole stack a few seconds later. Looked at from outside: the
rule from a NET_ADMIN helper in app-2's own network namespace, the resources by their labels."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from docker.errors import APIError, NotFound
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from lab.drill.control import NOTHING_RUNNING, POINTER, control_socket
from lab.stack import labels
from lab.stack.engine import Engine
from lab.stack.images import LabImages
from lab.stack.labels import project_name
from lab.stack.scratch import scratch_directory
from tests.cli import lab_cli, start_lab
from tests.figures import Figure

from .helpers import NotYet, leftovers, seed, summary_of, wait_for_event, wait_until

# Alone on the engine (make test runs the others two at a time): it times how fast SIGKILLed runs are cleaned up.
pytestmark = [pytest.mark.docker, pytest.mark.serial]

FAULT_GONE_WITHIN_S = 5.0
"""The dead-man switch reverts the fault the moment the lab's attachment closes (measured under 1.2 s), far before
the fault's time-to-live; that it was the switch, not the reaper, the engine's events say (`helper_ended_alone`)."""
RUN_GONE_WITHIN_S = 20.0
"""The reaper removes the run after its 2 s grace (measured under 7 s); far below any time-to-live too."""


def fault_rule_present(engine: Engine, lab_images: LabImages, run_id: str) -> bool | None:
    """Whether app-2's own network namespace holds this run's rule; None once app-2 itself is gone (removed by the
    reaper between the lookup and the probe). Any other failure of the probe is the test's: it propagates."""
    try:
        app2 = engine.client.containers.get(f"{project_name(run_id)}-app-2-1")
        output = engine.client.containers.run(
            lab_images.tools, ["iptables", "-S", "OUTPUT"], remove=True, network_mode=f"container:{app2.id}",
            cap_drop=["ALL"], cap_add=["NET_ADMIN"],
            labels={**labels.run_labels(run_id, labels.ROLE_FAULT), labels.PROBE: "true"})
    except NotFound:
        return None
    except APIError as exc:  # app-2 stopped or removed under the probe: its namespace cannot be joined any more
        if any(said in str(exc) for said in ("is not running", "non running container", "No such container")):
            return None
        raise
    return f"outage-lab:{run_id}:" in output.decode()


def seconds_until(condition: str, check: Callable[[], bool], timeout_s: float) -> float:
    started = time.monotonic()

    def done() -> None:
        if not check():
            raise NotYet(condition)

    Retrying(stop=stop_after_delay(timeout_s), wait=wait_fixed(0.05), retry=retry_if_exception_type(NotYet),
             reraise=True)(done)
    return time.monotonic() - started


def kill_and_time(process: subprocess.Popen[str], engine: Engine, lab_images: LabImages, run_id: str,
                  fault_applied: bool = True) -> tuple[float, float]:
    """SIGKILL the lab process; seconds until its fault is gone, and until nothing of its run is left. A fault that
    was applied must be seen gone from app-2's namespace while app-2 is still there: its dead-man switch, not the
    reaper, removed it."""
    killed_at = datetime.now(UTC)
    process.kill()
    killed = time.monotonic()
    process.wait(timeout=10)
    gone = (lambda: fault_rule_present(engine, lab_images, run_id) is False) if fault_applied else \
        (lambda: fault_rule_present(engine, lab_images, run_id) is not True)
    seconds_until("rule gone", gone, FAULT_GONE_WITHIN_S)
    fault_gone_s = time.monotonic() - killed
    if fault_applied:
        assert helper_ended_alone(engine, run_id, killed_at)
    seconds_until("run removed", lambda: leftovers(engine, run_id) == [], RUN_GONE_WITHIN_S)
    return fault_gone_s, time.monotonic() - killed


def helper_ended_alone(engine: Engine, run_id: str, since: datetime) -> bool:
    """The run's fault helper ended by itself once its lab process was gone (its dead-man switch): the engine saw it
    die without being sent a signal first, as the reaper's stop or a TTL's kill would have."""
    helpers = labels.run_filter(run_id, labels.ROLE_FAULT)["label"]

    def helper_events() -> list[tuple[str, str]]:
        events = engine.client.events(since=since, until=datetime.now(UTC), decode=True,
                                      filters={"type": "container", "event": ["kill", "die"], "label": helpers})
        return [(event["Action"], event["Actor"]["ID"]) for event in events
                if labels.PROBE not in event["Actor"]["Attributes"]]

    found = wait_until(lambda: helper_events() if any(action == "die" for action, _ in helper_events()) else None,
                       "the fault helper's end", timeout_s=RUN_GONE_WITHIN_S)
    died = {container for action, container in found if action == "die"}
    return not any(action == "kill" and container in died for action, container in found)


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
    fault_applied: bool, figure: Figure
) -> None:
    """SIGKILL of `lab run` at STAGE: the fault is gone within seconds and nothing of the run is left a few seconds
    later, without any lab command; a look-alike container of another run is untouched."""
    out = tmp_path / "run"
    process = start_lab("run", seed(tmp_path), "--speed", "7", "--out", str(out))
    run_id = wait_for_event(out, "run.started", process=process)["run_id"]
    wait_for_event(out, stage, timeout_s=240, process=process)
    if fault_applied:
        assert fault_rule_present(engine, lab_images, run_id)
    fault_gone_s, all_gone_s = kill_and_time(process, engine, lab_images, run_id, fault_applied)
    assert engine.client.containers.get(look_alike).status == "running"
    figure(f"[kill -9 at {stage}] fault gone {fault_gone_s:.2f} s, everything gone {all_gone_s:.1f} s after "
           f"SIGKILL")


def test_kill_9_of_a_drill_mid_fault_leaves_nothing(tmp_path: Path, engine: Engine,
                                                    lab_images: LabImages, figure: Figure) -> None:
    """The same for `lab drill`: its fault helper and reaper are the run's, so a killed drill cleans itself up."""
    out = tmp_path / "drill"
    runs = tmp_path / "runs"
    process = start_lab("drill", "db-network-misconfig", "--inject-after", "3", "--out", str(out),
                        env={"LAB_RUNS_DIR": str(runs)})
    run_id = wait_for_event(out, "run.started", process=process)["run_id"]
    wait_for_event(out, "fault.applied", process=process)
    assert fault_rule_present(engine, lab_images, run_id)
    fault_gone_s, all_gone_s = kill_and_time(process, engine, lab_images, run_id)
    assert (scratch_directory(run_id) / "override.yaml").is_file()  # the reaper cannot reach the host's files
    assert control_socket(run_id).is_socket() and (runs / POINTER).is_file()  # as the killed drill left them
    assert lab_cli("status").returncode == 0  # every lab command removes those of dead runs first
    assert not scratch_directory(run_id).exists() and not control_socket(run_id).exists()
    ack = lab_cli("ack", env={"LAB_RUNS_DIR": str(runs)})  # its pointer is left, and says nothing runs
    assert (ack.returncode, ack.stderr.strip()) == (4, f"lab: error: {NOTHING_RUNNING}")
    assert not (runs / POINTER).exists()
    figure(f"[kill -9 drill] fault gone {fault_gone_s:.2f} s, everything gone {all_gone_s:.1f} s after SIGKILL")


def test_two_runs_at_once_one_killed_the_other_untouched_and_passing(tmp_path: Path, engine: Engine,
                                                                     lab_images: LabImages) -> None:
    """Two runs side by side (their own names, ports, networks and directories); one is killed: its reaper removes
    its own run only, and the other goes on and passes."""
    survivor_out, victim_out = tmp_path / "survivor", tmp_path / "victim"
    survivor = start_lab("run", seed(tmp_path), "--speed", "5", "--out", str(survivor_out))
    victim = start_lab("run", seed(tmp_path), "--speed", "5", "--out", str(victim_out))
    victim_id = wait_for_event(victim_out, "run.started", process=victim)["run_id"]
    survivor_id = wait_for_event(survivor_out, "run.started", process=survivor)["run_id"]
    assert victim_id != survivor_id
    wait_for_event(victim_out, "fault.applied", process=victim)
    victim.kill()
    victim.wait(timeout=10)
    seconds_until("victim removed", lambda: leftovers(engine, victim_id) == [], RUN_GONE_WITHIN_S)
    stdout, stderr = survivor.communicate(timeout=400)
    assert survivor.returncode == 0, stdout[-2000:] + stderr[-2000:]
    assert summary_of(survivor_out)["verdict"] == "pass"
    assert leftovers(engine, survivor_id) == []
