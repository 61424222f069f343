"""outage-lab's reaper: removes one run's containers, networks and volumes once the lab process that owns the
run is gone (in the manner of testcontainers' Ryuk).

The lab attaches to this container's stdin before starting it and keeps the connection for the whole run.
  - "done" on stdin: the run ended normally and the lab has removed its stack; the reaper leaves.
  - end of input: the lab process is gone (killed, SIGKILL included: Docker closes the container's stdin when the
    attached client's connection closes). After GRACE_S seconds the reaper stops the run's fault helpers (SIGTERM:
    each reverts its fault), removes every container, network and volume carrying the run's labels, and sweeps
    again until two sweeps in a row find nothing (a `compose up` the lab left running may still be creating
    containers), then leaves. Its container removes itself.

It only ever acts on resources labelled outage-lab.managed=true and outage-lab.run=RUN_ID, and checks both
labels on each one before acting. It needs the Docker engine's socket (mounted at /var/run/docker.sock) for that
and for nothing else: no network, no capability, a read-only root filesystem.
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

RUN_ID = os.environ["RUN_ID"]
GRACE_S = float(os.environ.get("GRACE_S", "2"))
SOCKET = "/var/run/docker.sock"
MANAGED, RUN, ROLE = "outage-lab.managed", "outage-lab.run", "outage-lab.role"
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


def call(method: str, path: str, **query: str) -> tuple[int, Any]:
    connection = EngineConnection()
    try:
        connection.request(method, path + ("?" + urllib.parse.urlencode(query) if query else ""))
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    return response.status, (json.loads(body) if body and body.strip()[:1] in (b"[", b"{") else None)


def ours(labels: dict[str, str] | None) -> bool:
    labels = labels or {}
    return labels.get(MANAGED) == "true" and labels.get(RUN) == RUN_ID and labels.get(ROLE) != "reaper"


def sweep() -> tuple[int, int]:
    """One pass over the run's resources: (how many were there, how many it removed)."""
    selector = json.dumps({"label": [f"{MANAGED}=true", f"{RUN}={RUN_ID}"]})
    found = removed = 0
    _, containers = call("GET", "/containers/json", all="1", filters=selector)
    containers = [c for c in containers or [] if ours(c.get("Labels"))]
    found += len(containers)
    for helper in containers:
        if (helper.get("Labels") or {}).get(ROLE) == "fault" and helper.get("State") == "running":
            call("POST", f"/containers/{helper['Id']}/stop", t="5")  # SIGTERM: the helper reverts its fault
    for container in containers:
        status, _ = call("DELETE", f"/containers/{container['Id']}", force="1", v="1")
        removed += status == 204
    _, networks = call("GET", "/networks", filters=selector)
    for network in networks or []:
        if ours(network.get("Labels")):
            found += 1
            status, _ = call("DELETE", f"/networks/{network['Id']}")
            removed += status == 204
    _, volumes = call("GET", "/volumes", filters=selector)
    for volume in (volumes or {}).get("Volumes") or []:
        if ours(volume.get("Labels")):
            found += 1
            status, _ = call("DELETE", f"/volumes/{urllib.parse.quote(volume['Name'])}", force="1")
            removed += status == 204
    return found, removed


def main() -> None:
    say("ready")
    line = sys.stdin.readline()
    if line.strip() == "done":
        say("dismissed")
        return
    say("owner-gone", f"sweeping in {GRACE_S:g} s")
    time.sleep(GRACE_S)
    deadline, quiet, total = time.monotonic() + GIVE_UP_AFTER_S, 0, 0
    while quiet < 2 and time.monotonic() < deadline:  # until two passes in a row find nothing of the run
        try:
            found, removed = sweep()
        except OSError as exc:  # the engine restarting: try again
            say("engine-unreachable", str(exc))
            found, removed = 1, 0
        total += removed
        quiet = 0 if found else quiet + 1
        time.sleep(0.5)
    say("swept", f"{total} resource(s) removed")


if __name__ == "__main__":
    main()
