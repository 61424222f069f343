"""The lab's own readiness probes, against servers on 127.0.0.1 in this process (no Docker)."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from lab.readiness import http_ok, postgres_accepting


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        """Quiet."""


@pytest.fixture
def server_port() -> Iterator[int]:
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_http_probe_passes_only_on_200(server_port: int) -> None:
    """200 on the path is ready; another status or nobody listening is not."""
    assert http_ok(server_port, "/healthz")
    assert not http_ok(server_port, "/other")
    assert not http_ok(closed_port(), "/healthz")


def test_http_probe_does_not_take_a_silent_listener_for_ready() -> None:
    """A port that accepts connections but never answers (Docker's proxy before the container listens) is not
    ready: the probe gives up after its timeout."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert not http_ok(listener.getsockname()[1], "/healthz")


def test_postgres_probe_fails_when_nothing_listens() -> None:
    """No server: not ready (and no exception)."""
    assert not postgres_accepting(f"host=127.0.0.1 port={closed_port()} dbname=x user=x")
