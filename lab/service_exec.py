"""Commands in a lab service (for trainees and runbooks): as argv, never through a shell string, only in
containers of the lab's run; `--netns` runs the tools image in the service's network namespace instead."""

from __future__ import annotations

from dataclasses import dataclass

from lab import labels
from lab.stack import Stack


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str


def run_in_service(stack: Stack, service: str, argv: list[str], tools_image: str | None = None) -> ExecResult:
    container = stack.container(service)  # label-checked: only this run's containers
    if tools_image is None:
        result = container.exec_run(argv)
        return ExecResult(int(result.exit_code), result.output.decode(errors="replace"))
    tool = stack.client.containers.run(
        tools_image, argv, detach=True, network_mode=f"container:{container.id}", cap_drop=["ALL"],
        cap_add=["NET_ADMIN"], security_opt=["no-new-privileges"],
        labels={**labels.run_labels(stack.run_id, labels.ROLE_FAULT), labels.PROBE: "true"},
    )
    try:
        exit_code = int(tool.wait(timeout=60)["StatusCode"])
        return ExecResult(exit_code, tool.logs().decode(errors="replace"))
    finally:
        tool.remove(force=True)
