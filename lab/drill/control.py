"""How trainee commands (`lab ack`, `lab note`, `lab hint`, `lab exec`, `lab give-up`...) reach a running drill:
a Unix socket owned by the drill process, one JSON request and one JSON reply per connection. The drill's
address is in `<runs dir>/.active-drill` while it runs; the socket is in the run's own directory, which the next lab
command removes if the drill was killed."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import socketserver
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lab.errors import InvalidInput, LabError, NothingRunning
from lab.stack.labels import new_run_id
from lab.stack.scratch import scratch_directory

POINTER = ".active-drill"
Handler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class ActiveDrill:
    socket_path: str
    run_id: str
    run_dir: str
    tools_image: str


NOTHING_RUNNING = "no drill is running: start one with `lab drill db-network-misconfig`"


def pointer_path(runs_dir: Path) -> Path:
    return runs_dir / POINTER


SOCKET_PATH_MAX = 107
"""The longest path a Unix socket can be bound to (108 bytes with the terminating NUL)."""


def control_socket(run_id: str) -> Path:
    return scratch_directory(run_id) / "drill.sock"


def check_socket_path() -> None:
    """Before a drill starts anything: its control socket, in the run's directory under the temporary directory,
    must fit a Unix socket's path."""
    longest = len(os.fsencode(control_socket(new_run_id())))
    if longest > SOCKET_PATH_MAX:
        raise LabError(f"the drill's control socket would be {longest} bytes long under the temporary directory "
                       f"{tempfile.gettempdir()} (at most {SOCKET_PATH_MAX}): set TMPDIR to a shorter directory")


def read_active(runs_dir: Path) -> ActiveDrill:
    """The running drill; a pointer whose socket is gone (its drill was killed, and a later lab command removed the
    run's directory) is removed, unless another drill has written it since, and means nothing is running."""
    path = pointer_path(runs_dir)
    try:
        text = path.read_text()
        active = ActiveDrill(**json.loads(text))
    except (OSError, ValueError, TypeError) as exc:
        raise NothingRunning(NOTHING_RUNNING) from exc
    try:
        os.stat(active.socket_path)
    except FileNotFoundError:
        with contextlib.suppress(OSError):
            if path.read_text() == text:
                path.unlink()
        raise NothingRunning(NOTHING_RUNNING) from None
    except OSError:  # cannot even look (another user's directory): connecting says why
        pass
    return active


def send(runs_dir: Path, request: dict[str, Any]) -> dict[str, Any]:
    active = read_active(runs_dir)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(30)
            connection.connect(active.socket_path)
            connection.sendall(json.dumps(request).encode() + b"\n")
            reply = connection.makefile("rb").readline()
    except OSError as exc:
        raise NothingRunning(f"the drill at {active.run_dir} does not answer (it has ended?): {exc}") from exc
    answer: dict[str, Any] = json.loads(reply or b"{}")
    return answer


class ControlServer:
    """Serves requests in background threads; `handler` returns the reply (it must be thread-safe)."""

    def __init__(self, socket_path: Path, handler: Handler) -> None:
        self.socket_path = socket_path
        socket_path.unlink(missing_ok=True)

        class RequestHandler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                try:
                    reply = handler(json.loads(self.rfile.readline()))
                except Exception as exc:  # a bad request must not stop the drill
                    reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                self.wfile.write(json.dumps(reply).encode() + b"\n")

        try:  # in the run's directory, which the stack made with its owner file
            self._server = socketserver.ThreadingUnixStreamServer(str(socket_path), RequestHandler)
        except OSError as exc:
            raise LabError(f"cannot open the drill's control socket {socket_path}: {exc.strerror or exc}") from exc
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="drill-control", daemon=True)

    def start(self, runs_dir: Path, active: ActiveDrill) -> None:
        self._thread.start()
        pointer_path(runs_dir).write_text(json.dumps(asdict(active)))
        self._runs_dir = runs_dir

    def stop(self) -> None:
        if self._thread.ident is not None:  # an interrupt can come before start(): nothing serves, nothing to stop
            pointer_path(self._runs_dir).unlink(missing_ok=True)
            self._server.shutdown()
        self._server.server_close()
        self.socket_path.unlink(missing_ok=True)


def ensure_no_active_drill(runs_dir: Path) -> None:
    """One drill at a time per runs folder (its pointer is the trainee's terminal's way in); a pointer left by a
    drill that was killed is removed."""
    try:
        active = read_active(runs_dir)
    except NothingRunning:
        return
    try:
        send(runs_dir, {"op": "info"})
    except NothingRunning:
        pointer_path(runs_dir).unlink(missing_ok=True)
        return
    raise InvalidInput(f"a drill is already running ({active.run_dir}): one at a time per runs folder")
