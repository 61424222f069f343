"""The lab's own readiness probes, against servers on 127.0.0.1 in this process, and the wait that asks them and the
engine (its answers scripted: no Docker)."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from lab.errors import StackError
from lab.stack.health import ENGINE_EVERY_S, HealthWait, NotReadyYet
from lab.stack.readiness import http_ok, postgres_accepting


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


class Container:
    """A container as the engine last described it (the fields the health wait reads)."""

    def __init__(self, status: str = "running", health: str | None = "starting", exit_code: int = 0,
                 started_at: str = "2026-11-28T04:41:13Z") -> None:
        state: dict[str, object] = {"Status": status, "ExitCode": exit_code, "StartedAt": started_at}
        if health is not None:
            state["Health"] = {"Status": health}
        self.attrs = {"State": state}

    def logs(self, tail: int) -> bytes:
        return b"starting\nlast words\n"


class Stack:
    """The engine's answers and the lab's probes, scripted; counts how often each is asked."""

    run_id = "run-1"

    def __init__(self, containers: dict[str, Container], answering: set[str]) -> None:
        self.found = containers
        self.answering = answering
        self.engine_asked = 0
        self.probed: list[str] = []

    def containers(self) -> dict[str, Container]:
        self.engine_asked += 1
        return dict(self.found)

    def ready(self, service: str, container: object) -> bool:
        self.probed.append(service)
        return service in self.answering


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def poll(wait: HealthWait, clock: Clock, times: int, every_s: float = 0.1) -> int:
    """Polls as the stack's wait does; how many raised NotReadyYet."""
    not_ready = 0
    for _ in range(times):
        try:
            wait.check()
        except NotReadyYet:
            not_ready += 1
        clock.t += every_s
    return not_ready


def test_the_engine_is_asked_at_most_every_half_second_while_services_start() -> None:
    stack = Stack({"db": Container(), "app": Container()}, answering={"db"})
    clock = Clock()
    wait = HealthWait(stack, ("db", "app"), now=clock)
    assert poll(wait, clock, times=20) == 20  # 2 s of polls every 0.1 s
    assert stack.engine_asked == round(2.0 / ENGINE_EVERY_S)
    assert stack.probed.count("db") == 1  # answered once: not asked again
    assert stack.probed.count("app") == 20


def test_the_engine_is_asked_once_more_before_the_wait_ends() -> None:
    stack = Stack({"db": Container(), "app": Container()}, answering={"db"})
    clock = Clock()
    wait = HealthWait(stack, ("db", "app"), now=clock)
    poll(wait, clock, times=2)
    asked = stack.engine_asked
    stack.answering.add("app")
    stack.found["db"] = Container(status="exited", exit_code=3)  # since the engine was last asked
    with pytest.raises(StackError, match=r"db exited with code 3: last words"):
        wait.check()
    assert stack.engine_asked == asked + 1


def test_a_wait_ends_when_every_service_has_answered_or_is_healthy() -> None:
    stack = Stack({"db": Container(health="healthy"), "app": Container(), "worker": Container(health=None)},
                  answering={"app"})
    wait = HealthWait(stack, ("db", "app", "worker"), now=Clock())
    wait.check()
    assert wait.passed == {"db", "app", "worker"}
    assert stack.probed == ["app"]  # Docker said the others were ready


def test_an_exited_or_vanished_service_ends_the_wait_at_once() -> None:
    exited = Stack({"db": Container(), "app": Container(status="exited", exit_code=1)}, answering=set())
    with pytest.raises(StackError, match=r"^app exited with code 1: last words$"):
        HealthWait(exited, ("db", "app"), now=Clock()).check()
    vanished = Stack({"db": Container()}, answering=set())
    with pytest.raises(StackError, match=r"stack run-1 lost its containers for app \(removed from outside\)"):
        HealthWait(vanished, ("db", "app"), now=Clock()).check()


def test_a_service_not_ready_says_its_state_and_last_log_line_only_when_asked() -> None:
    stack = Stack({"app": Container()}, answering=set())
    with pytest.raises(NotReadyYet) as raised:
        HealthWait(stack, ("app",), now=Clock()).check()
    assert str(raised.value) == "app is running/starting"
    assert raised.value.with_last_words() == "app is running/starting: last words"


@pytest.mark.parametrize("since", [Container(status="restarting", health="unhealthy"),
                                   Container(health="unhealthy"),
                                   Container(started_at="2026-11-28T04:41:15Z")],
                         ids=["restarting", "unhealthy", "restarted"])
def test_a_service_that_answered_and_then_restarted_is_waited_for_again(since: Container) -> None:
    """A team's service under a restart policy that crashed after it answered: the engine's last word before the
    wait ends is that it is not the container that answered, or not well; the wait goes on."""
    stack = Stack({"db": Container(health="healthy"), "app": Container()}, answering={"app"})
    clock = Clock()
    wait = HealthWait(stack, ("db", "app"), now=clock)
    wait.check()
    assert wait.passed == {"db", "app"}
    stack.answering.clear()
    stack.found["app"] = since
    clock.t += 0.2  # the engine is asked again only because every service has passed
    with pytest.raises(NotReadyYet, match=r"^app is "):
        wait.check()
    assert wait.passed == {"db"}


def test_the_last_chance_asks_the_engine_whatever_it_said_a_moment_ago() -> None:
    """Docker's health check of a team's service turned healthy after the engine was last asked: a fresh check
    (the wait's last, at its deadline) sees it."""
    stack = Stack({"web": Container()}, answering=set())
    clock = Clock()
    wait = HealthWait(stack, ("web",), now=clock)
    with pytest.raises(NotReadyYet):
        wait.check()
    stack.found["web"] = Container(health="healthy")
    clock.t += 0.1
    with pytest.raises(NotReadyYet):
        wait.check()
    wait.check(fresh=True)
    assert wait.passed == {"web"}
