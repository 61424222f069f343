"""The generator's HTTP/1.1 client against a server on 127.0.0.1 in this process that answers with scripted bytes
(no Docker): the ways an answer can be framed, or fail to be, and connections kept alive."""

from __future__ import annotations

import asyncio
import gc
import socket
import struct
from collections.abc import Awaitable, Callable

import pytest
import uvloop

from lab.record import http1
from lab.record.http1 import Answer, Client, Origin

Reply = Callable[[int, asyncio.StreamWriter], Awaitable[None]]
"""Given the request's number (from 0, over all connections), writes the scripted answer (and may close)."""


def scripted(answer: bytes, close: bool = False) -> Reply:
    async def reply(_: int, writer: asyncio.StreamWriter) -> None:
        writer.write(answer)
        await writer.drain()
        if close:
            writer.close()

    return reply


Ended = list[tuple[Answer | None, str | None]]

DEADLINE_S = 5.0
"""How long a test waits for what it needs the client or the server to have done: far beyond the fraction of a second
it takes."""


async def within_deadline(happened: asyncio.Event, what: str) -> None:
    """Waits until `happened` is set; fails naming `what` if it is not within DEADLINE_S."""
    try:
        await asyncio.wait_for(happened.wait(), DEADLINE_S)
    except TimeoutError:
        pytest.fail(f"{what}: not within {DEADLINE_S:g} s")


def no_files(exc: OSError) -> None:
    raise AssertionError(f"this test runs out of file descriptors: {exc}")


def exchange(reply: Reply, requests: int = 1, method: str = "GET", body: bytes | None = None,
             timeout_s: float = 2.0, path: str = "/orders/7") -> tuple[Ended, int, list[bytes]]:
    """Sends `requests` one after another; returns how each ended, how many connections the server saw and the
    request heads it read."""
    ended: Ended = []
    heads: list[bytes] = []
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                heads.append(head + await reader.readexactly(length))
                await reply(len(heads) - 1, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = Client(Origin.parse(f"http://127.0.0.1:{port}"), timeout_s, asyncio.get_running_loop(), no_files)
        for _ in range(requests):
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            def heard(answer: Answer | None, error: str | None, done: asyncio.Future[None] = done) -> None:
                ended.append((answer, error))
                done.set_result(None)

            client.send(method, path, body, heard)
            await done
        client.close()
        server.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())
    return ended, connections, heads


def only_answer(ended: Ended) -> Answer:
    [(answer, error)] = ended
    assert error is None and answer is not None
    return answer


def test_an_answer_with_a_length_is_read_and_its_headers_found_whatever_their_case() -> None:
    ended, _, heads = exchange(scripted(b"HTTP/1.1 201 Created\r\nx-served-by: app-2\r\nContent-Length: 8\r\n\r\n"
                                        b'{"id":7}'), method="POST", body=b'{"item":"x"}')
    answer = only_answer(ended)
    assert (answer.status, answer.payload, answer.headers.get("X-Served-By")) == (201, b'{"id":7}', "app-2")
    [head] = heads
    assert head.startswith(b"POST /orders/7 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert head.endswith(b'\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"item":"x"}')


def test_a_chunked_answer_is_put_back_together() -> None:
    ended, _, _ = exchange(scripted(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"))
    assert only_answer(ended).payload == b"abcdefg"


def test_an_answer_without_a_length_ends_with_the_connection() -> None:
    ended, _, _ = exchange(scripted(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it", close=True))
    assert only_answer(ended).payload == b"all of it"


def test_a_head_request_ends_with_the_headers_though_a_length_is_given() -> None:
    ended, _, _ = exchange(scripted(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"), method="HEAD")
    assert (only_answer(ended).status, only_answer(ended).payload) == (200, b"")


def test_connections_are_kept_alive_and_used_again() -> None:
    ended, connections, _ = exchange(scripted(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), requests=20)
    assert [answer.payload for answer, _ in ended if answer] == [b"ok"] * 20
    assert connections == 1


def test_a_server_that_says_close_gets_a_new_connection_for_the_next_request() -> None:
    ended, connections, _ = exchange(scripted(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"),
                                     requests=3)
    assert [error for _, error in ended] == [None] * 3
    assert connections == 3


def test_an_answer_cut_short_by_the_server_is_an_error() -> None:
    ended, _, _ = exchange(scripted(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", close=True))
    [(answer, error)] = ended
    assert answer is None and error is not None and error.startswith("ServerDisconnectedError")


def test_an_answer_that_is_not_http_is_an_error() -> None:
    ended, _, _ = exchange(scripted(b"SSH-2.0-OpenSSH_9.2\r\n\r\n"))
    [(answer, error)] = ended
    assert answer is None and error is not None and error.startswith("HttpParserError")


def test_no_answer_within_the_timeout_is_a_timeout() -> None:
    async def never(_: int, __: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    ended, _, _ = exchange(never, timeout_s=0.1)
    assert ended == [(None, "TimeoutError: no answer within 0.1 s")]


@pytest.mark.parametrize("base_url", ["https://127.0.0.1:8443", "http://127.0.0.1:80/api", "127.0.0.1:80"])
def test_only_a_plain_http_origin_is_accepted(base_url: str) -> None:
    with pytest.raises(ValueError, match="http://HOST"):
        Origin.parse(base_url)


def test_a_request_dropped_after_an_answer_without_a_length_is_not_given_that_answer() -> None:
    """A 204 (no length, kept alive), then the server closes the connection on the next request unanswered: the
    second request failed; it did not get the first one's 204."""

    async def reply(number: int, writer: asyncio.StreamWriter) -> None:
        if number == 0:
            writer.write(b"HTTP/1.1 204 No Content\r\nX-Served-By: app-1\r\n\r\n")
        else:
            writer.close()

    ended, _, _ = exchange(reply, requests=2, method="DELETE")
    assert ended[0][0] is not None and ended[0][0].status == 204
    assert ended[1][0] is None and (ended[1][1] or "").startswith("ServerDisconnectedError")


def test_a_reset_in_an_answer_ended_by_the_close_is_an_error_not_a_short_answer() -> None:
    async def reply(_: int, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n\r\n{\"items\": [1, 2,")
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
        writer.transport.abort()

    [(answer, error)] = exchange(reply)[0]
    assert answer is None and "Connection reset" in (error or "")


def test_an_interim_answer_is_not_taken_for_the_answer() -> None:
    ended, _, _ = exchange(scripted(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n"
                                    b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nanswer"), requests=3)
    assert [(a.status, a.payload) for a, _ in ended if a] == [(200, b"answer")] * 3


def test_a_path_is_percent_encoded_where_it_must_be() -> None:
    _, _, heads = exchange(scripted(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
                           path="/notes/a b\r\nX-Injected: 1/caf\u00e9?q=%41&r=1")
    assert heads[0].startswith(b"GET /notes/a%20b%0D%0AX-Injected:%201/caf%C3%A9?q=%41&r=1 HTTP/1.1\r\n")
    assert Origin.parse("http://[::1]:8080").host_header == "[::1]:8080"


def test_closing_the_client_ends_its_requests_unheard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests still waiting when the client closes (the generator stopping) are not recorded as the server's
    disconnects."""
    ended: list[str | None] = []
    read = lost = 0
    all_read, all_lost = asyncio.Event(), asyncio.Event()

    class Watched(http1.Connection):
        def connection_lost(self, exc: Exception | None) -> None:
            nonlocal lost
            super().connection_lost(exc)
            lost += 1
            if lost == 3:
                all_lost.set()

    monkeypatch.setattr(http1, "Connection", Watched)

    async def main() -> None:
        async def hold(reader: asyncio.StreamReader, _: asyncio.StreamWriter) -> None:
            nonlocal read
            await reader.readuntil(b"\r\n\r\n")
            read += 1
            if read == 3:
                all_read.set()
            await asyncio.sleep(5)

        server = await asyncio.start_server(hold, "127.0.0.1", 0)
        client = Client(Origin.parse(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"), 5.0,
                        asyncio.get_running_loop(), no_files)
        for _ in range(3):
            client.send("GET", "/", None, lambda _, error: ended.append(error))
        await within_deadline(all_read, "the server read the 3 requests")  # all 3 wait for their answers
        client.close()
        await within_deadline(all_lost, "the 3 connections heard of their loss")
        server.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())
    assert ended == []


def test_connections_idle_too_long_are_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A burst leaves many connections open; those left idle are closed by the client, not left to the server: each
    once it has been idle IDLE_S, by the next of the sweeps that run every IDLE_S."""
    idle_s = 0.2
    monkeypatch.setattr(http1, "IDLE_S", idle_s)
    open_now = most_open = 0
    idle_for: list[float] = []
    all_closed = asyncio.Event()

    async def main() -> None:
        loop = asyncio.get_running_loop()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal open_now, most_open
            open_now += 1
            most_open = max(most_open, open_now)
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(0.1)  # answered late: the burst's requests each need a connection of their own
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            answered = loop.time()
            await reader.read()  # until the client closes
            idle_for.append(loop.time() - answered)
            open_now -= 1
            if len(idle_for) == 10:
                all_closed.set()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        client = Client(Origin.parse(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"), 5.0,
                        asyncio.get_running_loop(), no_files)
        for _ in range(10):
            client.send("GET", "/", None, lambda _, __: None)
        await within_deadline(all_closed, "the client closed the 10 connections")
        client.close()
        server.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())
    assert most_open == 10
    # The sweep's period plus the loop's own lag (timers count whole milliseconds) bounds the wait from above.
    assert all(idle_s <= idle < 2 * idle_s + 0.1 for idle in idle_for), idle_for


def test_a_closed_connection_is_freed_without_the_cyclic_collector() -> None:
    """A connection and its parser refer to each other until it closes: left in a cycle, every connection a hung
    request opened would wait for the collector, whose pauses stall the generator."""
    freed = 0

    class Counted(http1.Connection):
        def __del__(self) -> None:
            nonlocal freed
            freed += 1

    gc.disable()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(http1, "Connection", Counted)
            ended, connections, _ = exchange(
                scripted(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"), requests=5)
    finally:
        gc.enable()
    assert [error for _, error in ended] == [None] * 5 and connections == 5
    assert freed == 5


def closes_first_then(answer: bytes) -> Reply:
    """Closes the connection on the first request without answering (a kept-alive connection the server was
    closing), answers the others."""

    async def reply(number: int, writer: asyncio.StreamWriter) -> None:
        if number == 0:
            writer.close()
        else:
            writer.write(answer)

    return reply


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def test_an_idempotent_request_the_server_closed_on_before_answering_is_sent_again_once() -> None:
    ended, connections, heads = exchange(closes_first_then(OK), method="GET")
    assert only_answer(ended).payload == b"ok" and connections == 2 and len(heads) == 2


def test_a_post_the_server_closed_on_is_not_sent_again() -> None:
    ended, _, heads = exchange(closes_first_then(OK), method="POST", body=b"{}")
    [(answer, error)] = ended
    assert answer is None and (error or "").startswith("ServerDisconnectedError") and len(heads) == 1


def test_a_request_is_sent_again_at_most_once() -> None:
    async def always_close(_: int, writer: asyncio.StreamWriter) -> None:
        writer.close()

    ended, _, heads = exchange(always_close, method="GET")
    [(answer, error)] = ended
    assert answer is None and (error or "").startswith("ServerDisconnectedError") and len(heads) == 2
