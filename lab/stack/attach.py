"""A line protocol over a container's attached stdin and stdout: what the lab speaks with its fault helpers and
its reaper. The lab attaches before the container starts, writes one command per line to its stdin, and reads
its replies, one line each ("PREFIX WORD DETAIL"), from its stdout.

The attachment is also a dead-man switch: when the lab process dies, SIGKILL included, its end of the connection
closes, and Docker closes the container's stdin with it (StdinOnce): the container reads end-of-input at once.
No host path is involved, so it works with a remote engine too.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import APIError, NotFound

REPLY_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Reply:
    word: str
    code: int | None
    detail: str

    @classmethod
    def parse(cls, line: str, coded: bool) -> Reply:
        _, _, rest = line.partition(" ")
        word, _, detail = rest.partition(" ")
        code: int | None = None
        if coded:
            first, _, remainder = detail.partition(" ")
            if first.lstrip("-").isdigit():
                code, detail = int(first), remainder
        return cls(word, code, detail.replace("|", "; ").strip("; ").strip())


class StreamEnded(Exception):
    """The container's stream ended (it exited) before it answered."""


class Channel:
    """The lab's end of one container's attached stdin/stdout. Docker multiplexes stdout and stderr in frames of an
    8-byte header (stream, 0, 0, 0, size big-endian) and the payload; only stdout lines matter here."""

    def __init__(self, sock: Any, prefix: str) -> None:
        self.prefix = prefix
        self._socket: socket.socket = getattr(sock, "_sock", sock)
        self._holder = sock  # keeps the SDK's wrapper (and so the connection) alive
        self._buffer = b""
        self._partial = ""  # stdout text after the last newline: a line may span frames
        self._lines: list[str] = []
        self._lock = threading.Lock()

    def send(self, command: str) -> None:
        self._socket.sendall(command.encode() + b"\n")

    def reply(self, words: set[str], timeout_s: float, coded: bool = False) -> Reply:
        """The next line carrying one of `words` (other lines are skipped)."""
        deadline = time.monotonic() + timeout_s
        while True:
            while self._lines:
                line = self._lines.pop(0)
                if line.startswith(self.prefix + " ") and line.split(" ", 2)[1] in words:
                    return Reply.parse(line, coded)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {'/'.join(sorted(words))} from the container within {timeout_s:g} s")
            self._read(left)

    def _read(self, timeout_s: float) -> None:
        readable, _, _ = select.select([self._socket], [], [], timeout_s)
        if not readable:
            return
        chunk = self._socket.recv(65536)
        if not chunk:
            raise StreamEnded("its output ended")
        self._buffer += chunk
        while len(self._buffer) >= 8:
            stream, size = struct.unpack(">BxxxL", self._buffer[:8])
            if len(self._buffer) < 8 + size:
                break
            payload, self._buffer = self._buffer[8:8 + size], self._buffer[8 + size:]
            if stream == 1:
                *lines, self._partial = (self._partial + payload.decode(errors="replace")).split("\n")
                self._lines.extend(line for line in lines if line)

    def request(self, command: str, words: set[str], timeout_s: float = REPLY_TIMEOUT_S,
                coded: bool = False) -> Reply:
        with self._lock:
            self.send(command)
            return self.reply(words, timeout_s, coded)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.close()


def attach(client: docker.DockerClient, container_id: str, prefix: str) -> Channel:
    """Attach to a created (not yet started) container's stdin, stdout and stderr."""
    sock = client.api.attach_socket(container_id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
    return Channel(sock, prefix)


def remove_container(client: docker.DockerClient, container_id: str) -> None:
    """Make sure a container is gone. The lab's attached containers remove themselves once they exit (auto-remove),
    so a removal already in progress, or done, is what is wanted."""
    try:
        # With its anonymous volumes, should an image it runs declare any (a team's database image often does).
        client.api.remove_container(container_id, force=True, v=True)
    except NotFound:
        pass
    except APIError as exc:
        if exc.status_code != 409:
            raise
