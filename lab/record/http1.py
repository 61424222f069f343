"""HTTP/1.1 over kept-alive connections, for the load generator: a request's bytes go to the socket the moment it
is sent, and its answer is parsed by httptools (uvicorn's parser) and handed to a callback on the event loop's
thread, with no task or queue in between.

Why not aiohttp, which the generator used before: every request cost it a task and some twenty Python calls, and
its answers resumed their tasks in the loop's queue. When a replica that had hung for seconds came back, its
thousand queued answers arrived at once and held the loop for a quarter of a second, and every request due
meanwhile started late (bench/RESULTS.md). Here an answer costs one parse and one callback, and the generator sends
whatever has come due after each one.

One origin (scheme http, a host and a port), methods with or without a body, answers with a length, chunked or
ended by the close; no TLS, no redirects, no pipelining.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import quote, urlsplit

import httptools

IDLE_S = 4.0
"""A connection idle this long is closed rather than used again: HAProxy closes idle client connections after 10 s,
and a request written to a connection the server is closing fails for no fault of the service."""

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
"""Sent again, once, if the connection closes before any of the answer came (RFC 9112, 9.3.1): as browsers and
aiohttp do, for a kept-alive connection the server closed as the request went out."""

PATH_SAFE = "/?&=%:@!$'()*+,;[]"
"""Left as they are in a request's path (with letters, digits and `_.-~`): a path already encoded stays as it is."""


class Headers(Mapping[str, str]):
    """An answer's headers, looked up whatever the case of their names (servers write them in any case)."""

    def __init__(self, pairs: dict[str, str]) -> None:
        self._pairs = pairs
        """Names in lower case."""

    def __getitem__(self, name: str) -> str:
        return self._pairs[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Headers
    payload: bytes


Done = Callable[[Answer | None, str | None], None]
"""Hears how a request ended, once: its answer, or the error in words (the answer is then None). It must not raise:
it runs inside the parser's callbacks."""


@dataclass(frozen=True)
class Origin:
    host: str
    port: int

    @classmethod
    def parse(cls, base_url: str) -> Origin:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname or parts.path.strip("/") or parts.query:
            raise ValueError(f"the load generator sends to http://HOST[:PORT] only, not {base_url!r}")
        return cls(parts.hostname, parts.port or 80)

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == 80 else f"{host}:{self.port}"

    def request(self, method: str, path: str, body: bytes | None) -> bytes:
        """The request's bytes. The path is percent-encoded where it has to be (a space, a line end, a character
        beyond ASCII: a workload's path may hold an id the server sent); a body is sent as JSON, as the workloads
        declare it."""
        head = f"{method} {quote(path, safe=PATH_SAFE)} HTTP/1.1\r\nHost: {self.host_header}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        elif method in ("POST", "PUT", "PATCH"):
            head += "Content-Length: 0\r\n"
        return (head + "\r\n").encode("ascii") + (body or b"")


class Exchange:
    """One request on its way: its bytes, its deadline, and who hears how it ended."""

    __slots__ = ("connection", "data", "deadline", "due", "finished", "head_only", "on_done", "retry")

    def __init__(self, data: bytes, head_only: bool, on_done: Done, due: float, retry: bool) -> None:
        self.data = data
        self.retry = retry
        """It may still be sent again (see IDEMPOTENT)."""
        self.due = due
        """When its timeout is up (time.monotonic())."""
        self.head_only = head_only
        self.on_done = on_done
        self.deadline: asyncio.TimerHandle | None = None
        self.connection: Connection | None = None
        self.finished = False

    def finish(self, answer: Answer | None, error: str | None) -> None:
        if self.finished:
            return
        self.abandon()
        self.on_done(answer, error)

    def abandon(self) -> None:
        """Ended unheard: the client is closing."""
        self.finished = True
        if self.deadline is not None:
            self.deadline.cancel()


class Connection(asyncio.Protocol):
    """One kept-alive connection: at most one request at a time. Its answer is parsed into fields that are cleared
    when a request is sent, so that nothing of an earlier answer is ever taken for a later one's."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.exchange: Exchange | None = None
        self.idle_since = 0.0
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._status = 0
        self._reading = False
        """An answer to the current request has begun."""

    @property
    def usable(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio's subclasses

    def send(self, exchange: Exchange) -> None:
        assert self.transport is not None
        self.exchange = exchange
        exchange.connection = self
        self._headers, self._body, self._status, self._reading = {}, [], 0, False
        self.transport.write(exchange.data)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._parser is None:  # lost already
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._end(None, "HttpParserUpgrade: the server switched protocols, which no request asked for")
            self.abort()
        except httptools.HttpParserError as exc:
            self._end(None, f"HttpParserError: unreadable answer: {exc}")
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._client.forget(self)
        self._parser = None  # it holds this connection's callbacks: the two would be freed only by the collector
        if self.exchange is None:
            return
        if not self._reading and self.exchange.retry:
            exchange, self.exchange = self.exchange, None
            exchange.retry = False
            self._client.dispatch(exchange)
        elif exc is None and self._reading and self._status and not self._body_framed():
            self._complete(keep_alive=False)  # an answer with neither a length nor chunks ends with the connection
        else:
            self._end(None, f"ServerDisconnectedError: the connection closed before the answer ended"
                            f"{f' ({exc})' if exc else ''}")

    # httptools' callbacks
    def on_message_begin(self) -> None:
        self._headers, self._body, self._status, self._reading = {}, [], 0, True

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self._headers[key] = f"{self._headers[key]}, {text}" if key in self._headers else text

    def on_headers_complete(self) -> None:
        assert self._parser is not None  # called by it
        self._status = self._parser.get_status_code()
        if self.exchange is not None and self.exchange.head_only and not self._interim():
            self._complete(keep_alive=False)  # no body follows, though its length may be given: start afresh

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._interim():  # 100 Continue, 103 Early Hints: the answer follows
            self._headers, self._body, self._status, self._reading = {}, [], 0, False
        elif self.exchange is not None and self._parser is not None:
            self._complete(keep_alive=self._parser.should_keep_alive())

    def _interim(self) -> bool:
        return 100 <= self._status < 200

    def _body_framed(self) -> bool:
        return "content-length" in self._headers or "chunked" in self._headers.get("transfer-encoding", "")

    def _complete(self, keep_alive: bool) -> None:
        answer = Answer(self._status, Headers(self._headers), b"".join(self._body))
        exchange, self.exchange = self.exchange, None
        if keep_alive:
            self._client.release(self)
        else:
            self.abort()
        if exchange is not None:
            exchange.finish(answer, None)

    def _end(self, answer: Answer | None, error: str) -> None:
        exchange, self.exchange = self.exchange, None
        if exchange is not None:
            exchange.finish(answer, error)


class Client:
    """Sends requests to one origin on the running loop: on an idle connection at once, or on a new one (a request
    never waits for another); each request ends by `timeout_s` after it was sent, answered or not.

    A connection this process cannot open for want of file descriptors is not the server's failure: its request
    ends unheard and `out_of_files` hears why (the caller's recording is no longer complete)."""

    def __init__(self, origin: Origin, timeout_s: float, loop: asyncio.AbstractEventLoop,
                 out_of_files: Callable[[OSError], None]) -> None:
        self.origin = origin
        self.timeout_s = timeout_s
        self._loop = loop
        self._out_of_files = out_of_files
        self._idle: list[Connection] = []
        """Most recently used last: taken first, so that the fewest stay open."""
        self._open: set[Connection] = set()
        self._connecting: set[asyncio.Task[None]] = set()
        self._sweeping = loop.call_later(IDLE_S, self._sweep)

    def send(self, method: str, path: str, body: bytes | None, on_done: Done) -> None:
        exchange = Exchange(self.origin.request(method, path, body), method == "HEAD", on_done,
                            time.monotonic() + self.timeout_s, retry=method in IDEMPOTENT)
        exchange.deadline = self._loop.call_later(self.timeout_s, self._expire, exchange)
        self.dispatch(exchange)

    def dispatch(self, exchange: Exchange) -> None:
        """On an idle connection, or a new one."""
        exchange.connection = None  # a request sent again no longer belongs to the connection that closed on it
        connection = self._take_idle()
        if connection is not None:
            connection.send(exchange)
            return
        task = self._loop.create_task(self._connect(exchange))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)

    def release(self, connection: Connection) -> None:
        connection.idle_since = self._loop.time()
        self._idle.append(connection)

    def forget(self, connection: Connection) -> None:
        self._open.discard(connection)
        # A closed connection left in the idle list is skipped when taken; removing it here would cost a search.

    def close(self) -> None:
        """Close every connection and stop the connections being opened: their requests end unheard (not as
        errors of the server's)."""
        self._sweeping.cancel()
        for task in self._connecting:
            task.cancel()
        for connection in list(self._open):
            if connection.exchange is not None:
                connection.exchange.abandon()
                connection.exchange = None
            connection.abort()
        self._idle.clear()

    def _sweep(self) -> None:
        """Close the connections idle too long (a burst of hung requests leaves many open)."""
        now = self._loop.time()
        fresh = [c for c in self._idle if c.usable and now - c.idle_since < IDLE_S]
        for connection in set(self._idle).difference(fresh):
            connection.abort()
        self._idle = fresh
        self._sweeping = self._loop.call_later(IDLE_S, self._sweep)

    def _take_idle(self) -> Connection | None:
        now = self._loop.time()
        while self._idle:
            connection = self._idle.pop()
            if connection.usable and now - connection.idle_since < IDLE_S:
                return connection
            connection.abort()
        return None

    async def _connect(self, exchange: Exchange) -> None:
        try:
            transport, connection = await self._loop.create_connection(lambda: Connection(self), self.origin.host,
                                                                       self.origin.port)
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE):
                exchange.abandon()
                self._out_of_files(exc)
            else:
                exchange.finish(None, f"{type(exc).__name__}: {exc}")
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._open.add(connection)
        if exchange.finished:  # its deadline passed while the connection was being opened
            self.release(connection)
        else:
            connection.send(exchange)

    def _expire(self, exchange: Exchange) -> None:
        if exchange.finished:  # its connection may be serving another request by now
            return
        early_s = exchange.due - time.monotonic()
        if early_s > 0:  # the loop's timers count whole milliseconds from the start of its turn
            exchange.deadline = self._loop.call_later(early_s + 0.001, self._expire, exchange)
            return
        connection = exchange.connection
        exchange.finish(None, f"TimeoutError: no answer within {self.timeout_s:g} s")
        if connection is not None:
            connection.exchange = None
            connection.abort()  # its answer, if one comes, has no request left to belong to
