"""How long each way of putting the same DROP rule into a container's network namespace takes, from the moment
the action starts until the rule is in the kernel (iptables has returned), and the same for its removal.

The lab's own way (a helper prepared before the offset, applied by a signal) against the lab's helper started
at the offset, a fresh helper container per action (Pumba's way), `docker exec` through the CLI, the SDK's
exec_run, and host-side `nsenter` (root on the Docker host only)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any

from bench.stats import summarize
from lab import labels
from lab.faults import FaultContext
from lab.faults.packet_drop import PacketDrop
from lab.scenario import FaultSpec
from lab.stack import Stack

SPEC = FaultSpec(id="bench-drop", kind="packet-drop", target="app-2", destination="db", port=5432, ttl_s=600,
                 description="bench")


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def injection_latency(stack: Stack, tools_image: str, trials: int) -> dict[str, Any]:
    context = FaultContext(client=stack.client, run_id=stack.run_id, project=stack.project, tools_image=tools_image,
                           containers=stack.container)
    target = stack.container("app-2")
    results: dict[str, dict[str, list[float]]] = {}

    def record(name: str, apply_s: float, revert_s: float) -> None:
        entry = results.setdefault(name, {"apply": [], "revert": []})
        entry["apply"].append(apply_s)
        entry["revert"].append(revert_s)

    for _ in range(trials):
        fault = PacketDrop(SPEC, context, ttl_s=600)
        fault.prepare(arm_timeout_s=120)
        record("lab: helper prepared ahead, applied by signal", _timed(fault.apply), _timed(fault.revert))
        fault = PacketDrop(SPEC, context, ttl_s=600)
        record("lab: helper started at the offset", _timed(fault.apply), _timed(fault.revert))

    rule = PacketDrop(SPEC, context, ttl_s=600).rule()  # the exact rule the lab uses
    network = f"container:{target.id}"
    fresh = ["docker", "run", "--rm", "--network", network, "--cap-drop", "ALL", "--cap-add", "NET_ADMIN",
             "--label", f"{labels.MANAGED}=true", "--label", f"{labels.RUN}={stack.run_id}", tools_image, "iptables"]
    for _ in range(trials):
        record("fresh helper container per action (Pumba's way)",
               _timed(lambda: _run([*fresh, "-A", *rule])), _timed(lambda: _run([*fresh, "-D", *rule])))

    resident = stack.client.containers.run(tools_image, ["sleep", "3600"], detach=True, network_mode=network,
                                           cap_drop=["ALL"], cap_add=["NET_ADMIN"],
                                           labels=labels.run_labels(stack.run_id, labels.ROLE_FAULT))
    try:
        for _ in range(trials):
            record("docker exec through the CLI (resident helper)",
                   _timed(lambda: _run(["docker", "exec", resident.id, "iptables", "-A", *rule])),
                   _timed(lambda: _run(["docker", "exec", resident.id, "iptables", "-D", *rule])))
            record("SDK exec_run (resident helper)",
                   _timed(lambda: resident.exec_run(["iptables", "-A", *rule])),
                   _timed(lambda: resident.exec_run(["iptables", "-D", *rule])))
    finally:
        resident.remove(force=True)

    if os.geteuid() == 0 and shutil.which("nsenter") and shutil.which("iptables"):
        pid = str(target.attrs["State"]["Pid"])
        for _ in range(trials):
            record("host nsenter (root on the Docker host)",
                   _timed(lambda: _run(["nsenter", "-t", pid, "-n", "iptables", "-A", *rule])),
                   _timed(lambda: _run(["nsenter", "-t", pid, "-n", "iptables", "-D", *rule])))
    return {name: {phase: summarize(values) for phase, values in phases.items()} for name, phases in results.items()}
