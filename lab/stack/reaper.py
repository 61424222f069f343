"""The run's reaper: a small labelled container that removes the run's stack if the lab process dies, with no
further command (testcontainers' Ryuk, done with the attach dead-man switch of lab.stack.attach).

Started before the stack, attached for the whole run. The lab dismisses it ("done") once it has removed the stack
itself; if the lab process dies instead, its stdin ends, and after a short grace it stops the run's fault
helpers (each reverts its fault on SIGTERM) and removes every container, network and volume carrying the run's
labels. See lab/dockerfiles/reaper/reaper.py for what it does and does not touch.

It needs the Docker engine's socket, mounted from the engine's host: with a local engine that is the socket the
lab talks to (DOCKER_HOST=unix://...); with a remote one, the engine host's /var/run/docker.sock, unless
LAB_REAPER_SOCKET names another path on that host. Nothing else: no network, no capability, a read-only root.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

import docker
from docker.errors import APIError

from lab.errors import StackError
from lab.stack import labels
from lab.stack.attach import REPLY_TIMEOUT_S, Channel, StreamEnded, attach, remove_container

PREFIX = "outage-lab-reaper"
GRACE_S = 2.0
DEFAULT_SOCKET = "/var/run/docker.sock"


def engine_socket(environ: dict[str, str] | None = None) -> str:
    """The engine's socket as a path on the engine's host."""
    env = os.environ if environ is None else environ
    if env.get("LAB_REAPER_SOCKET"):
        return env["LAB_REAPER_SOCKET"]
    host = urlsplit(env.get("DOCKER_HOST", ""))
    return host.path if host.scheme == "unix" and host.path else DEFAULT_SOCKET


@dataclass
class Reaper:
    client: docker.DockerClient
    container_id: str
    channel: Channel

    @classmethod
    def launch(cls, client: docker.DockerClient, image: str, run_id: str, name: str) -> Reaper:
        """Create, attach and start it. From here the lab's death ends its stdin, which the reaper reads once its
        program runs: what the run creates next is covered. `confirm_ready` says whether the program started."""
        host_config = client.api.create_host_config(
            binds={engine_socket(): {"bind": DEFAULT_SOCKET, "mode": "rw"}}, auto_remove=True, network_mode="none",
            cap_drop=["ALL"], security_opt=["no-new-privileges"], read_only=True, mem_limit="64m", pids_limit=16)
        try:
            created = client.api.create_container(
                image, name=name, detach=False, stdin_open=True, host_config=host_config,
                labels=labels.run_labels(run_id, labels.ROLE_REAPER),
                environment={"RUN_ID": run_id, "GRACE_S": str(GRACE_S)})
        except APIError as exc:
            raise StackError(f"cannot create the run's reaper: {exc.explanation or exc}") from exc
        container_id = str(created["Id"])
        channel = attach(client, container_id, PREFIX)
        try:
            client.api.start(container_id)
        except (APIError, OSError) as exc:
            channel.close()
            remove_container(client, container_id)
            raise StackError(f"the run's reaper did not start: {exc}") from exc
        return cls(client, container_id, channel)

    def confirm_ready(self) -> None:
        """Until its program said it is watching (it starts while the stack does); StackError if it never does."""
        try:
            self.channel.reply({"ready"}, REPLY_TIMEOUT_S)
        except (OSError, StreamEnded, TimeoutError) as exc:
            raise StackError(f"the run's reaper did not start: {exc}") from exc

    def dismiss(self) -> None:
        """The run's stack is gone by the lab's own hand: the reaper leaves without touching anything."""
        with contextlib.suppress(OSError, StreamEnded, TimeoutError):
            self.channel.request("done", {"dismissed"})
        self.channel.close()
        with contextlib.suppress(APIError):
            remove_container(self.client, self.container_id)
