"""An open-loop load generator: requests start on a fixed schedule, whatever the server does, and each one is
timed from when it was *planned* to start.

Why open loop and planned starts: a generator that waits for answers before sending more (closed loop), or that
runs out of workers while requests hang, stops sending exactly when the service is slowest, and a latency timed
from the late actual start hides that wait (coordinated omission; wrk2, k6's constant-arrival-rate executor and
Vegeta were built against it). Here every request records its planned start, its actual start and its end; its
latency runs from the planned start, and its lateness (actual - planned) says whether the generator itself kept
the schedule. A recording whose requests started late cannot be trusted, whatever the service did.

How: one event loop (uvloop) in its own thread, and lab.record.http1's connections, kept alive and reused (HAProxy
balances every request on its own, so each still goes to the next replica); a connection is opened whenever all the
open ones are busy, so a request never waits for another to finish. The schedule is kept by the loop's timer and
after every answer: whatever has come due while answers were being read is sent before the next answer is read, so a
burst of answers (a replica that hung for seconds coming back) does not hold the requests due behind it.

Retries (lab.record.retries), when the users' client has a policy: an attempt that ends retryable is tried again on
the loop's timer at its end plus the drawn backoff, as one more request beside the schedule's; the schedule's
planned first attempts never wait for them, and `sent` counts only those.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import gc
import itertools
import math
import resource
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lab.clock import Clock
from lab.record.http1 import Answer, Client, Headers, Origin
from lab.record.retries import FINAL, Decision, Retries
from lab.record.schedule import Schedule
from lab.scenario.workload import WorkloadRequest

STOP_GRACE_S = 1.0
"""Beyond its own timeout, how long stop() waits for a request still in flight before giving up on it."""

NO_HEADERS = Headers({})


class _CollectorPause:
    """What the process holds when traffic starts (the lab's modules and matplotlib's, the stack's state: some
    130,000 objects) is kept out of the cyclic collector's scans while any generator runs: a full collection of it
    stops the generator's thread for a tenth of a second or more, and every request due meanwhile starts late. The
    last generator to stop gives it back (a process may run generators one after another,
    or several at once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0

    def enter(self) -> None:
        with self._lock:
            if not self._running:
                gc.freeze()
            self._running += 1

    def leave(self) -> None:
        with self._lock:
            self._running -= 1
            if not self._running:
                gc.unfreeze()


_collector_paused = _CollectorPause()


def _allow_open_files() -> None:
    """Every request in flight holds a connection: 1,000 req/s into a service that hangs for the users' 10-s timeout
    is 10,000 open at once, and a desktop's default soft limit is 1,024. Raised to the hard limit, as servers and
    load tools do; a connection refused for want of one more stops the generator (its recording would be missing
    requests), rather than being recorded as the service failing."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):  # a kernel cap below the hard limit: keep what there is
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


@dataclass(frozen=True)
class Planned:
    """One request to send: what, and when it should start (offset on the lab's clock)."""

    seq: int
    planned_t: float
    method: str
    path: str
    body: bytes | None = None
    endpoint: str = ""
    """How the recording names it (a workload request's name)."""
    template: WorkloadRequest | None = None
    """The workload request it was drawn from: what its answer must be, what write it acknowledges."""
    attempt: int = 1
    """Its try's number in its operation (a retry: 2 on); a retry keeps its first attempt's `seq`."""
    first_t: float | None = None
    """A retry's: its operation's first attempt's planned start."""

    @property
    def operation_t(self) -> float:
        """When its operation (its first attempt) was planned to start: what a user waited from."""
        return self.planned_t if self.first_t is None else self.first_t

    def retried(self, planned_t: float) -> Planned:
        """Its next try, planned at `planned_t`."""
        return dataclasses.replace(self, planned_t=planned_t, attempt=self.attempt + 1, first_t=self.operation_t)


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
    then: Decision = FINAL
    """What the client does next: another try after a wait, or none (and why not, if it was retryable)."""

    @property
    def lateness_s(self) -> float:
        return self.started_t - self.planned.planned_t

    @property
    def latency_s(self) -> float:
        """From the planned start: what a user who arrived then waited."""
        return self.done_t - self.planned.planned_t


def warm_up() -> None:
    """Import the event loop and the HTTP parser, for a caller with time to spare before traffic starts: the
    generator imports them when it starts otherwise."""
    import httptools  # noqa: F401
    import uvloop  # noqa: F401


class OpenLoop:
    """Sends `plan(seq)` at `rate` per second from start() until stop(), or at the rate `change_rate` sets;
    `record(sent)` hears of each one's end. Both callbacks run on the generator's own thread, one at a time; one
    that raises stops the generator, and stop() raises it. With `retries`, an attempt they retry is sent again
    after its backoff (`retried` counts those); retries still waiting at stop() are not sent."""

    def __init__(self, base_url: str, rate: float, timeout_s: float, clock: Clock,
                 plan: Callable[[int, float], Planned], record: Callable[[Sent], None],
                 retries: Retries | None = None) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.origin = Origin.parse(base_url)
        self.rate = rate
        self.schedule = Schedule.steady(0.0, 0, rate)
        self.timeout_s = timeout_s
        self.clock = clock
        self._plan = plan
        self._record = record
        self._retries = retries
        self.sent = 0
        """First attempts sent: the schedule's count."""
        self.retried = 0
        self.recorded = 0
        self._numbers = itertools.count()
        self._waiting: dict[int, asyncio.TimerHandle] = {}
        """Retries waiting for their backoff to pass, by a number of their own."""
        self._in_flight = 0
        self._client: Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tick_handle: asyncio.TimerHandle | None = None
        self._stopping: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._pumping = False
        self._pausing_collector = False
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loadgen", daemon=True)
        self._failure: BaseException | None = None

    def start(self) -> None:
        _allow_open_files()
        _collector_paused.enter()
        self._pausing_collector = True
        self._thread.start()
        self._ready.wait()

    def stop(self) -> None:
        """Stop sending, then wait for the requests in flight (each bounded by its timeout)."""
        if self._loop is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop has just closed on its own (a failure)
                self._loop.call_soon_threadsafe(self._stop)
        if self._thread.ident is not None:  # started
            self._thread.join()
        if self._pausing_collector:
            self._pausing_collector = False
            _collector_paused.leave()
        if self._failure is not None:
            raise RuntimeError(f"the load generator failed: {self._failure!r}") from self._failure

    def change_rate(self, target: float, ramp_s: float = 0.0) -> None:
        """From the next request on, `target` per second, reached along a straight ramp of `ramp_s` seconds."""
        if target <= 0 or ramp_s < 0:
            raise ValueError(f"rate must be positive and a ramp at least 0 s, got {target} over {ramp_s} s")
        if self._loop is None or not self._thread.is_alive():
            raise RuntimeError("the load generator is not running")
        self._loop.call_soon_threadsafe(self._change, target, ramp_s)

    def _change(self, target: float, ramp_s: float) -> None:
        self._pump()  # what was due under the old rate goes first
        self.schedule = self.schedule.changed(self.sent, target, ramp_s)
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        self._tick()

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
        self._loop = asyncio.get_running_loop()
        self._client = Client(self.origin, self.timeout_s, self._loop, out_of_files=self._fail)
        self._stopping = self._loop.create_future()
        self._drained = self._loop.create_future()
        self.schedule = Schedule.steady(self.clock.now(), 0, self.rate)
        self._ready.set()
        try:
            self._tick()
            await self._stopping
            if self._in_flight:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._drained, self.timeout_s + STOP_GRACE_S)
        finally:
            self._client.close()

    def _stop(self) -> None:
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        for handle in self._waiting.values():
            handle.cancel()
        self._waiting.clear()
        if self._stopping is not None and not self._stopping.done():
            self._stopping.set_result(None)
        if not self._in_flight:
            self._end_drain()

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
        self._stop()
        self._end_drain()  # a failed generator does not wait for its requests in flight

    def _end_drain(self) -> None:
        """The wait for the requests in flight after a stop is over."""
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def _tick(self) -> None:
        """The loop's timer: send what is due, then wake again when the next request is."""
        self._pump()
        if self._stopping is not None and not self._stopping.done():
            assert self._loop is not None
            # uvloop's timers count whole milliseconds: a wait rounded down would wake before the request is due,
            # find nothing to send and wait again, spinning for up to a millisecond before each request.
            wait_ms = math.ceil(max(0.0, self.schedule.planned_t(self.sent) - self.clock.now()) * 1000)
            self._tick_handle = self._loop.call_later(wait_ms / 1000, self._tick)

    def _pump(self) -> None:
        """Send every request whose planned start has come."""
        if self._pumping or self._stopping is None or self._stopping.done():
            return
        assert self._client is not None
        self._pumping = True
        try:
            for number in self.schedule.due(self.sent, self.clock.now()):
                planned = self._plan(number, self.schedule.planned_t(number))
                self.sent = number + 1
                self._send(planned)
                if self._retries is not None:
                    self._retries.first_sent(planned.planned_t)
        except Exception as exc:
            self._fail(exc)
        finally:
            self._pumping = False

    def _send(self, planned: Planned) -> None:
        assert self._client is not None
        self._in_flight += 1
        started_t = self.clock.now()
        self._client.send(planned.method, planned.path, planned.body,
                          functools.partial(self._finished, planned, started_t))

    def _retry_later(self, retry: Planned) -> None:
        assert self._loop is not None
        number = next(self._numbers)
        wait_ms = math.ceil(max(0.0, retry.planned_t - self.clock.now()) * 1000)  # as _tick's, never early
        self._waiting[number] = self._loop.call_later(wait_ms / 1000, self._send_retry, number, retry)

    def _send_retry(self, number: int, retry: Planned) -> None:
        self._waiting.pop(number, None)
        if self._stopping is None or self._stopping.done():
            return
        if retry.planned_t > self.clock.now():  # the loop's timers count from the start of its turn: early
            self._retry_later(retry)
            return
        self._pump()  # first attempts due now go first: a retry never delays the schedule
        self.retried += 1
        try:
            self._send(retry)
        except Exception as exc:
            self._fail(exc)

    def _finished(self, planned: Planned, started_t: float, answer: Answer | None, error: str | None) -> None:
        self._in_flight -= 1
        try:
            now = self.clock.now()
            status, headers, payload = (None, NO_HEADERS, b"") if answer is None else (
                answer.status, answer.headers, answer.payload)
            if answer is not None:
                error = None
            then = FINAL
            if self._retries is not None and self._stopping is not None and not self._stopping.done():
                then = self._retries.after(planned.attempt, status, error, now)
            sent = Sent(planned, started_t, now, status, headers, payload, error, then)
            self.recorded += 1
            self._record(sent)
            if then.wait_s is not None:
                self._retry_later(planned.retried(now + then.wait_s))
        except Exception as exc:
            self._fail(exc)
            return
        self._pump()
        if not self._in_flight and self._stopping is not None and self._stopping.done():
            self._end_drain()
