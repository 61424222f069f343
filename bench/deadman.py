"""kill -9 of `lab run` at each stage of a run, many times: how long until the fault is gone (looked at from a
NET_ADMIN helper in app-2's own network namespace) and until nothing of the run is left (by its labels), with no
further command. What the dead-man switch and the run's reaper are for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import docker

from bench.stats import summarize
from lab.stack import labels
from lab.stack.labels import project_name

STAGES = ("step.prepared", "fault.applied", "action.restarted", "writes.checking", "run.ended")
FAULT_APPLIED_AT = {"fault.applied", "action.restarted"}


def _event(path: Path, kind: str, timeout_s: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("kind") == kind:
                    return dict(event)
        time.sleep(0.02)
    raise TimeoutError(f"no {kind} in {path}")


def _rule_present(client: docker.DockerClient, tools_image: str, run_id: str) -> bool | None:
    try:
        app2 = client.containers.get(f"{project_name(run_id)}-app-2-1")
        output = client.containers.run(tools_image, ["iptables", "-S", "OUTPUT"], remove=True,
                                       network_mode=f"container:{app2.id}", cap_drop=["ALL"], cap_add=["NET_ADMIN"],
                                       labels={**labels.run_labels(run_id, labels.ROLE_FAULT), labels.PROBE: "true"})
    except docker.errors.DockerException:
        return None  # app-2 already removed by the reaper
    return f"outage-lab:{run_id}:" in output.decode()


def _left(client: docker.DockerClient, run_id: str) -> int:
    selector = labels.run_filter(run_id)
    return (len(client.api.containers(all=True, filters=selector)) + len(client.networks.list(filters=selector))
            + len(client.volumes.list(filters=selector)))


def kill_at(stage: str, client: docker.DockerClient, tools_image: str) -> dict[str, float | None]:
    with tempfile.TemporaryDirectory(prefix="outage-lab-deadman-") as tmp:
        out = Path(tmp) / "run"
        process = subprocess.Popen([sys.executable, "-m", "lab.cli", "run", "db-network-misconfig", "--speed", "7",
                                    "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   env={**os.environ})
        try:
            run_id = _event(out / "events.jsonl", "run.started")["run_id"]
            _event(out / "events.jsonl", stage)
        finally:
            process.kill()
            killed = time.monotonic()
            process.wait()
        fault_gone: float | None = None
        if stage in FAULT_APPLIED_AT:
            while _rule_present(client, tools_image, run_id):
                time.sleep(0.02)
            fault_gone = time.monotonic() - killed
        while _left(client, run_id):
            if time.monotonic() - killed > 120:
                raise TimeoutError(f"run {run_id} still there 120 s after kill -9 at {stage}")
            time.sleep(0.1)
        return {"fault_gone_s": fault_gone, "all_gone_s": time.monotonic() - killed}


def deadman(client: docker.DockerClient, tools_image: str, kills: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for stage in STAGES:
        measured = [kill_at(stage, client, tools_image) for _ in range(kills)]
        fault = [m["fault_gone_s"] for m in measured if m["fault_gone_s"] is not None]
        results[stage] = {"kills": kills, "fault_gone": summarize(fault) if fault else None,
                          "all_gone": summarize([m["all_gone_s"] for m in measured if m["all_gone_s"] is not None])}
    return results
