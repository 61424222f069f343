"""A short-lived tools container in another container's network namespace (iptables, ip, bash /dev/tcp), with
NET_ADMIN only, kept off the recording, removed once it has answered."""

from __future__ import annotations

import docker

from lab.stack import labels


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
