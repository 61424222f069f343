"""Commands in a lab service (for trainees and runbooks): as argv, never through a shell string, only in
containers of the lab's run; `--netns` runs the tools image in the service's network namespace instead."""

from __future__ import annotations

from dataclasses import dataclass

from lab.stack.project import Stack
from lab.stack.tools import run_tool


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
