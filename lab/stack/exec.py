"""Commands in a lab service, for trainees and runbooks: as argv, never through a shell string, only in containers
of the lab's run. `--netns` runs them instead in a short-lived tools container in the service's network namespace
(iptables, ip, bash /dev/tcp) with NET_ADMIN only, kept off the recording and removed once it has answered."""

from __future__ import annotations

from dataclasses import dataclass

import docker

from lab.stack import labels
from lab.stack.project import Stack


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str


def run_in_service(stack: Stack, service: str, argv: list[str], tools_image: str | None = None) -> ExecResult:
    container = stack.container(service)  # label-checked: only this run's containers
    if tools_image is None:
        result = container.exec_run(argv)
        return ExecResult(int(result.exit_code), result.output.decode(errors="replace"))
    exit_code, output = run_tool(stack.client, tools_image, container.id, stack.run_id, argv)
    return ExecResult(exit_code, output)


def run_tool(client: docker.DockerClient, tools_image: str, container_id: str, run_id: str, argv: list[str],
             timeout_s: float = 60) -> tuple[int, str]:
    """(exit code, output) of `argv` run in the network namespace of `container_id` as it is now."""
    tool = client.containers.run(
        tools_image, argv, detach=True, network_mode=f"container:{container_id}", cap_drop=["ALL"],
        cap_add=["NET_ADMIN"], security_opt=["no-new-privileges"],
        labels={**labels.run_labels(run_id, labels.ROLE_FAULT), labels.PROBE: "true"},
    )
    try:
        exit_code = int(tool.wait(timeout=timeout_s)["StatusCode"])
        return exit_code, tool.logs().decode(errors="replace")
    finally:
        tool.remove(force=True, v=True)
