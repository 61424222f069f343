"""What happens around a run or a drill does not derail it: short-lived containers carrying its labels come and go
(like `lab exec --netns` probes or a trainee's `docker run --rm`), and another terminal's `lab restart`, `lab exec`
and `lab logs` without --run leave a `lab run` alone."""

from __future__ import annotations

import shlex
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from docker.errors import APIError

from lab.stack import labels
from lab.stack.engine import Engine
from lab.stack.images import LabImages
from lab.stack.runs import owners_by_run, running_run_ids
from tests.cli import lab_cli

from .helpers import checks_of, events_of, leftovers, running_lab, seed, summary_of, wait_for_event, wait_until

# Alone on the engine (make test runs the others two at a time): it removes containers and runs other terminals'
# commands on the engine.
pytestmark = [pytest.mark.docker, pytest.mark.serial]

CHURNERS = 3
"""Threads creating and removing containers: enough that a listing of the run nearly always holds one going away."""


def run_id_of(engine: Engine, process: subprocess.Popen[str]) -> str:
    """The run id of a `lab run` or `lab drill` process, read from its owner label as soon as Compose creates the
    first container: well before the lab has finished bringing the stack up."""
    owner = f"{socket.gethostname()}:{process.pid}:"

    def created() -> str | None:
        if process.poll() is not None:
            raise AssertionError(f"the lab process ended early: {process.communicate()}")
        listed = engine.client.api.containers(all=True, filters=labels.managed_filter())  # no per-container inspect
        found = [c.get("Labels") or {} for c in listed]
        return next((found_labels[labels.RUN] for found_labels in found
                     if found_labels.get(labels.OWNER, "").startswith(owner)), None)

    return wait_until(created, "the lab process's first container", timeout_s=120)


@contextmanager
def vanishing_containers(engine: Engine, image: str, run_id: str) -> Iterator[list[int]]:
    """Short-lived containers labelled with the run (as a stack member and as a probe, both kept off the recording)
    created and removed in a loop until the block ends. Yields the count made so far (one entry per thread)."""
    stop = threading.Event()
    made = [0] * CHURNERS
    roles = (labels.ROLE_STACK, labels.ROLE_FAULT)

    def churn(index: int) -> None:
        while not stop.is_set():
            role = roles[made[index] % len(roles)]
            created = engine.client.api.create_container(
                image, ["true"], labels={**labels.run_labels(run_id, role), labels.PROBE: "true"})
            with suppress(APIError):  # the lab's own cleanup of the run may have removed it first
                engine.client.api.remove_container(created["Id"], force=True)
            made[index] += 1

    threads = [threading.Thread(target=churn, args=(i,), daemon=True) for i in range(CHURNERS)]
    for thread in threads:
        thread.start()
    try:
        yield made
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


def one_line_refusal(result: subprocess.CompletedProcess[str], run_id: str, pid: int) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stdout + result.stderr
    assert lines == [f"lab: error: stack {run_id} belongs to a running lab process (pid {pid}), not to a drill or "
                     f"`lab up`: add --run {run_id} to act on it anyway"]
    return lines[0]


def test_a_run_is_not_derailed_by_vanishing_containers_or_other_terminals_commands(
    tmp_path: Path, engine: Engine, lab_images: LabImages
) -> None:
    """With labelled containers vanishing all through it, and `lab restart db`, `lab exec --netns app-2` and
    `lab logs` without --run typed in another terminal mid-fault (refused in one line naming --run), the seed
    scenario's run passes with only its own db restart on the timeline; `lab logs --run ID` still reads it."""
    present = running_run_ids(engine.client)
    owners = owners_by_run(engine.client)
    if any(run not in owners for run in present):  # a `lab up` stack: an unnamed `lab restart` would act on it
        pytest.skip(f"a `lab up` stack of someone else is on this engine ({', '.join(present)})")
    out = tmp_path / "run"
    env = {"LAB_RUNS_DIR": str(tmp_path / "runs")}  # no drill of anyone else's is active there
    with running_lab("run", seed(tmp_path), "--speed", "5", "--out", str(out), env=env) as process:
        run_id = run_id_of(engine, process)
        with vanishing_containers(engine, lab_images.tools, run_id) as made:
            wait_for_event(out, "fault.applied", process=process)
            for command in (["restart", "db"], ["exec", "--netns", "app-2", "--", "iptables", "-D", "OUTPUT", "1"],
                            ["logs", "app-2"]):
                one_line_refusal(lab_cli(*command, env=env), run_id, process.pid)
            named = lab_cli("logs", "--run", run_id, "--tail", "5", "app-2", env=env)
            assert named.returncode == 0 and named.stdout.strip(), named.stderr
            stdout, stderr = process.communicate(timeout=400)
    assert process.returncode == 0, stdout[-3000:] + stderr[-2000:]
    assert sum(made) > 100, made  # the churn really ran all along
    summary = summary_of(out)
    assert summary["verdict"] == "pass" and all(checks_of(summary).values())
    restarts = [e["service"] for e in events_of(out) if e["kind"] == "docker.container" and e["action"] == "restart"]
    assert restarts == ["db"]  # the scenario's own, and no other
    assert leftovers(engine, run_id) == []


def test_a_drill_is_not_derailed_by_vanishing_containers(tmp_path: Path, engine: Engine,
                                                         lab_images: LabImages) -> None:
    """With labelled containers vanishing from the moment its stack is created, a drill comes up, lands its fault,
    and the trainee's fix ends it as "fixed" (exit 0), leaving nothing."""
    out = tmp_path / "drill"
    env = {"LAB_RUNS_DIR": str(tmp_path / "runs")}
    with running_lab("drill", "db-network-misconfig", "--inject-after", "3", "--max-duration", "180",
                     "--out", str(out), env=env) as process:
        run_id = run_id_of(engine, process)
        with vanishing_containers(engine, lab_images.tools, run_id) as made:
            wait_for_event(out, "alert.fired", process=process)
            rules = lab_cli("exec", "--netns", "app-2", "iptables", "-S", "OUTPUT", env=env)
            assert rules.returncode == 0, rules.stderr
            drop = next(line for line in rules.stdout.splitlines() if line.startswith("-A OUTPUT") and "DROP" in line)
            fixed = lab_cli("exec", "--netns", "app-2", "iptables", "-D", *shlex.split(drop)[1:], env=env)
            assert fixed.returncode == 0, fixed.stderr
            stdout, stderr = process.communicate(timeout=180)
    assert process.returncode == 0, stdout[-3000:] + stderr[-2000:]
    assert sum(made) > 50, made
    assert [e["outcome"] for e in events_of(out) if e["kind"] == "drill.ended"] == ["fixed"]
    assert leftovers(engine, run_id) == []
