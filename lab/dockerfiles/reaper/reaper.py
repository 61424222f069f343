"""outage-lab's reaper: removes one run's containers, networks and volumes once the lab process that owns the run is
gone (in the manner of testcontainers' Ryuk).

The lab attaches to this container's stdin before starting it and keeps the connection for the whole run.
  - "done" on stdin: the run ended normally and the lab has removed its stack; the reaper leaves.
  - end of input: the lab process is gone (killed, SIGKILL included: Docker closes the container's stdin when the
    attached client's connection closes). After GRACE_S seconds the reaper removes the run with the lab's own
    removal (lab.stack.removal, carried in this image with the lab's label names): the fault helpers stopped first
    (each reverts its fault on SIGTERM), then every container, network and volume carrying both of the run's labels,
    pass after pass until two in a row find nothing; then it leaves. Its container removes itself.

It needs the Docker engine's socket (mounted at /var/run/docker.sock) and nothing else: no network, no capability, a
read-only root filesystem. This module is the engine's API over that socket, with Python's standard library.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sys
import time
import urllib.parse
from typing import Any

from lab.stack.removal import Busy, Gone, remove_until_quiet

RUN_ID = os.environ["RUN_ID"]
GRACE_S = float(os.environ.get("GRACE_S", "2"))
SOCKET = "/var/run/docker.sock"
PREFIX = "outage-lab-reaper"
GIVE_UP_AFTER_S = 120.0


def say(word: str, detail: str = "") -> None:
    print(f"{PREFIX} {word} {detail}".rstrip(), flush=True)


class EngineConnection(http.client.HTTPConnection):
    def __init__(self) -> None:
        super().__init__("docker", timeout=60)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(SOCKET)


class SocketEngine:
    """lab.stack.removal's EngineApi over the engine's socket."""

    def containers(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        return list(self._call("GET", "/containers/json", all="1", filters=json.dumps(filters)) or [])

    def stop(self, container_id: str, timeout_s: int) -> None:
        self._call("POST", f"/containers/{container_id}/stop", t=str(timeout_s))

    def remove_container(self, container_id: str) -> None:
        self._call("DELETE", f"/containers/{container_id}", force="1", v="1")

    def networks(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        return list(self._call("GET", "/networks", filters=json.dumps(filters)) or [])

    def remove_network(self, network_id: str) -> None:
        self._call("DELETE", f"/networks/{network_id}")

    def volumes(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        return list((self._call("GET", "/volumes", filters=json.dumps(filters)) or {}).get("Volumes") or [])

    def remove_volume(self, name: str) -> None:
        self._call("DELETE", f"/volumes/{urllib.parse.quote(name)}", force="1")

    @staticmethod
    def _call(method: str, path: str, **query: str) -> Any:
        connection = EngineConnection()
        try:
            connection.request(method, path + ("?" + urllib.parse.urlencode(query) if query else ""))
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        if response.status == 404:
            raise Gone(path)
        if response.status == 409:
            raise Busy(path)
        if response.status >= 400:
            raise OSError(f"{method} {path}: the engine answered {response.status}: {body[:200]!r}")
        return json.loads(body) if body and body.strip()[:1] in (b"[", b"{") else None


def main() -> None:
    say("ready")
    line = sys.stdin.readline()
    if line.strip() == "done":
        say("dismissed")
        return
    say("owner-gone", f"sweeping in {GRACE_S:g} s")
    time.sleep(GRACE_S)  # a grace, not a wait: the helpers revert on their own at the same end of input
    removed = remove_until_quiet(SocketEngine(), RUN_ID, GIVE_UP_AFTER_S,
                                 unreachable=lambda exc: say("engine-unreachable", str(exc)))
    say("swept", f"{removed} resource(s) removed")


if __name__ == "__main__":
    main()
