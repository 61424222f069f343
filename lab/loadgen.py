"""An open-loop load generator: requests start on a fixed schedule, whatever the server does, and each one is
timed from when it was *planned* to start.

Why open loop and planned starts: a generator that waits for answers before sending more (closed loop), or that
runs out of workers while requests hang, stops sending exactly when the service is slowest, and a latency timed
from the late actual start hides that wait (coordinated omission; wrk2, k6's constant-arrival-rate executor and
Vegeta were built against it). Here every request records its planned start, its actual start and its end; its
latency runs from the planned start, and its lateness (actual - planned) says whether the generator itself kept
the schedule. A recording whose requests started late cannot be trusted, whatever the service did.

How: one asyncio event loop (uvloop) in its own thread and aiohttp's client keep thousands of requests in flight without
a thread each. Connections are kept alive and reused (HAProxy balances every request on its own, so each still
goes to the next replica); a connection is opened whenever all the open ones are busy, so a request never waits
for another to finish.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lab.clock import Clock

if TYPE_CHECKING:
    import aiohttp

MAX_SLEEP_S = 0.1
STOP_GRACE_S = 1.0
"""Beyond its own timeout, how long stop() waits for a request still in flight before giving up on it."""


@dataclass(frozen=True)
class Planned:
    """One request to send: what, and when it should start (offset on the lab's clock)."""

    seq: int
    planned_t: float
    method: str
    path: str
    body: bytes | None = None


@dataclass(frozen=True)
class Sent:
    """What became of a planned request: when it really started and ended, and the answer or the error."""

    planned: Planned
    started_t: float
    done_t: float
    status: int | None
    headers: Mapping[str, str]
    """Case-insensitive (servers write header names in any case)."""
    payload: bytes
    error: str | None

    @property
    def lateness_s(self) -> float:
        return self.started_t - self.planned.planned_t

    @property
    def latency_s(self) -> float:
        """From the planned start: what a user who arrived then waited."""
        return self.done_t - self.planned.planned_t


def due(start_t: float, rate: float, next_seq: int, now: float) -> range:
    """The sequence numbers whose planned start (start_t + seq / rate) has come by `now`, from `next_seq` on."""
    last = math.floor((now - start_t) * rate + 1e-9)
    return range(next_seq, max(next_seq, last + 1))


def warm_up() -> None:
    """Import the event loop and the HTTP client (a quarter of a second), for a caller with time to spare before
    traffic starts: the generator imports them when it starts otherwise."""
    import aiohttp  # noqa: F401
    import uvloop  # noqa: F401


class OpenLoop:
    """Sends `plan(seq)` at `rate` per second from start() until stop(); `record(sent)` hears of each one's end.
    Both callbacks run on the generator's own thread, one at a time."""

    def __init__(self, base_url: str, rate: float, timeout_s: float, clock: Clock,
                 plan: Callable[[int, float], Planned], record: Callable[[Sent], None]) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.base_url = base_url.rstrip("/")
        self.rate = rate
        self.timeout_s = timeout_s
        self.clock = clock
        self._plan = plan
        self._record = record
        self.sent = 0
        self.recorded = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loadgen", daemon=True)
        self._failure: BaseException | None = None
        self._transport_errors: tuple[type[BaseException], ...] = (OSError, ValueError)  # + aiohttp's, once imported

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()

    def stop(self) -> None:
        """Stop sending, then wait for the requests in flight (each bounded by its timeout)."""
        if self._loop is not None and self._stopping is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join()
        if self._failure is not None:
            raise RuntimeError(f"the load generator failed: {self._failure!r}") from self._failure

    def _run(self) -> None:
        try:
            import uvloop

            # uvloop (libuv) halves the loop's own cost per request against asyncio's selector loop.
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(self._main())
        except BaseException as exc:  # surfaced by stop(): the recording says how many were sent
            self._failure = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        import aiohttp

        self._transport_errors = (aiohttp.ClientError, OSError, ValueError)
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=5.0, enable_cleanup_closed=True)
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(self.base_url, connector=connector, timeout=timeout,
                                         auto_decompress=False, skip_auto_headers=("User-Agent",)) as session:
            in_flight: set[asyncio.Task[None]] = set()
            self._ready.set()
            await self._pace(session, in_flight)
            if in_flight:
                await asyncio.wait(in_flight, timeout=self.timeout_s + STOP_GRACE_S)

    async def _pace(self, session: aiohttp.ClientSession, in_flight: set[asyncio.Task[None]]) -> None:
        assert self._stopping is not None
        start_t = self.clock.now()
        seq = 0
        while not self._stopping.is_set():
            for number in due(start_t, self.rate, seq, self.clock.now()):
                task = asyncio.create_task(self._send(session, self._plan(number, start_t + number / self.rate)))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                seq = number + 1
                self.sent = seq
            wait_s = start_t + seq / self.rate - self.clock.now()
            if wait_s > 0:  # capped, so that a slow schedule still notices stop() at once
                await asyncio.sleep(min(wait_s, MAX_SLEEP_S))

    async def _send(self, session: aiohttp.ClientSession, planned: Planned) -> None:
        started = self.clock.now()
        status: int | None = None
        headers: Mapping[str, str] = {}
        payload = b""
        error: str | None = None
        try:
            async with session.request(planned.method, planned.path, data=planned.body,
                                       headers={"Content-Type": "application/json"}) as response:
                payload = await response.read()
                status, headers = response.status, response.headers
        except TimeoutError:
            error = f"TimeoutError: no answer within {self.timeout_s:g} s"
        except self._transport_errors as exc:
            error = f"{type(exc).__name__}: {exc}"
        sent = Sent(planned, started, self.clock.now(), status, headers, payload, error)
        self.recorded += 1
        self._record(sent)
