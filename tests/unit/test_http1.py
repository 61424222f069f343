"""The generator's HTTP/1.1 client against a server on 127.0.0.1 in this process that answers with scripted bytes
(no Docker): the ways an answer can be framed, or fail to be, and connections kept alive."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import uvloop

from lab.http1 import Answer, Client, Origin

Reply = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]
"""Given a request's head, writes the scripted answer (and may close the connection)."""


def scripted(answer: bytes, close: bool = False) -> Reply:
    async def reply(_: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(answer)
        await writer.drain()
        if close:
            writer.close()

    return reply


def exchange(reply: Reply, requests: int = 1, method: str = "GET", body: bytes | None = None,
             timeout_s: float = 2.0) -> tuple[list[tuple[Answer | None, str | None]], int, list[bytes]]:
    """Sends `requests` one after another; returns how each ended, how many connections the server saw and the
    request heads it read."""
    ended: list[tuple[Answer | None, str | None]] = []
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
                await reply(head, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = Client(Origin.parse(f"http://127.0.0.1:{port}"), timeout_s, asyncio.get_running_loop())
        for _ in range(requests):
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            def heard(answer: Answer | None, error: str | None, done: asyncio.Future[None] = done) -> None:
                ended.append((answer, error))
                done.set_result(None)

            client.send(method, "/orders/7", body, heard)
            await done
        client.close()
        server.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())
    return ended, connections, heads


def only_answer(ended: list[tuple[Answer | None, str | None]]) -> Answer:
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
    async def never(_: bytes, __: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    ended, _, _ = exchange(never, timeout_s=0.1)
    assert ended == [(None, "TimeoutError: no answer within 0.1 s")]


@pytest.mark.parametrize("base_url", ["https://127.0.0.1:8443", "http://127.0.0.1:80/api", "127.0.0.1:80"])
def test_only_a_plain_http_origin_is_accepted(base_url: str) -> None:
    with pytest.raises(ValueError, match="http://HOST"):
        Origin.parse(base_url)
