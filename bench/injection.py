"""How long putting a fault in place takes, from the moment the action starts until the fault is in the kernel
(the helper has answered), and the same for its removal.

First, every way of putting the same DROP rule into a container's network namespace: the lab's own (a helper
prepared before the offset, told to apply by a line on its stdin), the lab's helper started at the offset, a
fresh helper container per action (Pumba's way), `docker exec` through the CLI, the SDK's exec_run, and host-side
`nsenter` (root on the Docker host only). Then apply / verify / revert of every fault family's example, the
helpers prepared ahead as in a run."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any

from bench.stats import summarize
from lab.faults import build_fault, families
from lab.faults.base import FaultHandle
from lab.faults.target import StackTarget
from lab.stack import labels
from lab.stack.builtin import BUILTIN_TOPOLOGY
from lab.stack.project import Stack


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def example_fault(stack: Stack, tools_image: str, kind: str, fault_id: str, **changes: Any) -> FaultHandle:
    """The family's example on the built-in stack, with `changes` to its parameters."""
    family = families()[kind]
    spec = family.spec.model_validate({"id": fault_id, **family.example, **changes},
                                      context={"topology": BUILTIN_TOPOLOGY})
    return build_fault(spec, StackTarget(stack, tools_image), ttl_s=600)


def injection_latency(stack: Stack, tools_image: str, trials: int) -> dict[str, Any]:
    target = stack.container("app-2")
    results: dict[str, dict[str, list[float]]] = {}

    def record(name: str, apply_s: float, revert_s: float) -> None:
        entry = results.setdefault(name, {"apply": [], "revert": []})
        entry["apply"].append(apply_s)
        entry["revert"].append(revert_s)

    for trial in range(trials):
        fault = example_fault(stack, tools_image, "packet-drop", f"bench-ahead-{trial}")
        fault.prepare(arm_timeout_s=120)
        record("lab: helper prepared ahead, applied by a line on its stdin", _timed(fault.apply),
               _timed(fault.revert))
        fault = example_fault(stack, tools_image, "packet-drop", f"bench-late-{trial}")
        record("lab: helper started at the offset", _timed(fault.apply), _timed(fault.revert))

    db_ip = StackTarget(stack, tools_image).address("db", seen_from="app-2")
    rule = ["OUTPUT", "-p", "tcp", "-d", db_ip, "--dport", "5432", "-m", "comment", "--comment", "bench", "-j", "DROP"]
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


def family_latency(stack: Stack, tools_image: str, trials: int) -> dict[str, dict[str, Any]]:
    """Per family: apply (helpers prepared ahead), verify while applied (through the helper), revert."""
    results: dict[str, dict[str, list[float]]] = {}
    for kind in families():
        phases = results.setdefault(kind, {"apply": [], "verify": [], "revert": []})
        for trial in range(trials):
            fault = example_fault(stack, tools_image, kind, f"bench-{kind}-{trial}")
            fault.prepare(arm_timeout_s=120)
            phases["apply"].append(_timed(fault.apply))
            phases["verify"].append(_timed(fault.verify))
            phases["revert"].append(_timed(fault.revert))
            stack.wait_healthy(timeout_s=60, poll_s=0.2)
    return {kind: {phase: summarize(values) for phase, values in phases.items()} for kind, phases in results.items()}
