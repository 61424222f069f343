"""The open-loop generator against a small HTTP server on 127.0.0.1 in this process (no Docker): every planned
request is sent and recorded even while many hang, each with its planned start, actual start and end."""

from __future__ import annotations

import asyncio
import gc
import itertools
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from aiohttp import web

from lab.clock import MonotonicClock
from lab.record.loadgen import OpenLoop, Planned, Sent

RATE = 200.0
SECONDS = 1.0
HANG_S = 0.6
RELEASE_S = 0.5
"""When /held answers every request it held, all at once (a replica that hung coming back)."""
HELD_UNTIL = 0.4
"""In the burst's test, the requests planned before this (every other one) go to /held."""
ON_TIME_S = 0.05
"""The latest a request may start after its planned start and still be on the schedule: the lab's own default bound
for a recording it trusts (traffic.max_lateness_p99_s), far above what a generator that keeps up shows here (a few
ms) and far below one that fell behind."""
DEADLINE_S = 10.0
"""How long a test waits for what it needs the generator to have done: far beyond the second or less it takes."""


@pytest.fixture
def server() -> Iterator[str]:
    """Answers /fast at once and /slow after HANG_S; replies name no replica (as the LB's own answers)."""

    async def fast(_: web.Request) -> web.Response:
        return web.json_response({"ok": True}, headers={"X-Served-By": "fast"})

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(HANG_S)
        return web.json_response({"ok": True}, status=503)

    async def held(_: web.Request) -> web.Response:
        await asyncio.sleep(RELEASE_S - (loop.time() - started))
        return web.json_response({"ok": True}, status=503)

    loop = asyncio.new_event_loop()
    started = loop.time()
    with served(loop, [web.get("/fast", fast), web.get("/slow", slow), web.get("/held", held)]) as url:
        yield url


@contextmanager
def served(loop: asyncio.AbstractEventLoop, routes: list[web.RouteDef]) -> Iterator[str]:
    """An HTTP server of `routes` on a free port of 127.0.0.1, its `loop` run on a thread of its own: its base URL.
    The loop is closed when the server is."""
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.run_until_complete(runner.cleanup())
        loop.close()


def run_until(generator: OpenLoop, reached: threading.Event, what: str) -> None:
    """Runs the generator until its own callbacks set `reached`, then stops it (which waits for the requests in
    flight); fails if `what` has not happened within DEADLINE_S."""
    generator.start()
    try:
        happened = reached.wait(DEADLINE_S)
    finally:
        generator.stop()
    assert happened, f"{what}: not within {DEADLINE_S:g} s"


# Alone on the machine (make test runs the other unit tests two at a time): it holds the generator to its
# schedule within ON_TIME_S, which another process's CPU can take.
@pytest.mark.serial
def test_every_request_is_sent_and_recorded_while_a_third_hang(server: str) -> None:
    """At 200 req/s with every third request hanging 0.6 s, a second's worth are sent on the schedule and all are
    recorded: planned starts 5 ms apart, actual start never before the planned one nor later than ON_TIME_S after
    it, latency from the planned start."""
    sent: list[Sent] = []
    planned_all = threading.Event()

    def plan(seq: int, planned_t: float) -> Planned:
        if seq + 1 >= RATE * SECONDS:
            planned_all.set()
        return Planned(seq, planned_t, "GET", "/slow" if seq % 3 == 1 else "/fast")

    generator = OpenLoop(server, RATE, timeout_s=5.0, clock=MonotonicClock(), plan=plan, record=sent.append)
    run_until(generator, planned_all, f"{RATE * SECONDS:g} requests sent")
    assert generator.sent == generator.recorded == len(sent) >= RATE * SECONDS
    ordered = sorted(sent, key=lambda s: s.planned.seq)
    assert [s.planned.seq for s in ordered] == list(range(len(sent)))
    starts = [s.planned.planned_t for s in ordered]
    assert all(later - earlier == pytest.approx(1 / RATE) for earlier, later in itertools.pairwise(starts))
    off_schedule = [s for s in ordered if not 0 <= s.lateness_s <= ON_TIME_S]
    assert not off_schedule, [(s.planned.seq, round(s.lateness_s, 4)) for s in off_schedule]
    assert all(s.done_t >= s.started_t for s in sent)
    assert all(s.latency_s == pytest.approx(s.done_t - s.planned.planned_t) for s in sent)
    slow = [s for s in sent if s.planned.path == "/slow"]
    assert all(s.status == 503 and s.latency_s >= HANG_S for s in slow)
    assert all(s.status == 200 and s.headers.get("X-Served-By") == "fast" for s in sent if s not in slow)


# Alone on the machine (make test runs the other unit tests two at a time): it holds the generator to its
# schedule within ON_TIME_S, which another process's CPU can take.
@pytest.mark.serial
def test_a_rate_change_while_running_plans_the_new_rate_from_the_next_request_on(server: str) -> None:
    """At 40 req/s, changed to 400 at once after the 20th request is planned: the gaps between planned starts are
    1/40 s up to the change and 1/400 s after it (none shorter, no burst at the change), every request is sent on
    time, and none is planned twice."""
    sent: list[Sent] = []
    changed, enough = threading.Event(), threading.Event()
    generator: OpenLoop

    def plan(seq: int, planned_t: float) -> Planned:
        if seq == 19:
            changed.set()
        if seq + 1 >= 220:
            enough.set()
        return Planned(seq, planned_t, "GET", "/fast")

    generator = OpenLoop(server, 40.0, timeout_s=5.0, clock=MonotonicClock(), plan=plan, record=sent.append)
    generator.start()
    try:
        assert changed.wait(DEADLINE_S), "20 requests not planned"
        generator.change_rate(400.0)
        assert enough.wait(DEADLINE_S), "220 requests not planned"
    finally:
        generator.stop()
    ordered = sorted(sent, key=lambda s: s.planned.seq)
    assert [s.planned.seq for s in ordered] == list(range(len(sent)))
    gaps = [later.planned.planned_t - earlier.planned.planned_t for earlier, later in itertools.pairwise(ordered)]
    assert all(gap == pytest.approx(1 / 40) for gap in gaps[:19])
    assert all(gap == pytest.approx(1 / 40) or gap == pytest.approx(1 / 400) for gap in gaps)
    assert sum(gap == pytest.approx(1 / 400) for gap in gaps) >= 190
    switched = next(index for index, gap in enumerate(gaps) if gap == pytest.approx(1 / 400))
    assert all(gap == pytest.approx(1 / 400) for gap in gaps[switched:])
    off_schedule = [s for s in ordered if not 0 <= s.lateness_s <= ON_TIME_S]
    assert not off_schedule, [(s.planned.seq, round(s.lateness_s, 4)) for s in off_schedule]


def test_a_request_past_its_timeout_is_recorded_as_a_timeout(server: str) -> None:
    """A request that outlives the users' timeout ends as an error naming the timeout, with its latency."""
    sent: list[Sent] = []
    planned_three = threading.Event()

    def plan(seq: int, planned_t: float) -> Planned:
        if seq + 1 >= 3:
            planned_three.set()
        return Planned(seq, planned_t, "GET", "/slow")

    generator = OpenLoop(server, 20.0, timeout_s=0.2, clock=MonotonicClock(), plan=plan, record=sent.append)
    run_until(generator, planned_three, "3 requests sent")
    assert len(sent) == generator.sent >= 3
    assert [(s.status, s.error) for s in sent] == [(None, "TimeoutError: no answer within 0.2 s")] * len(sent)
    assert all(s.latency_s >= 0.2 for s in sent)


def test_connection_refused_is_recorded_not_raised() -> None:
    """Nobody listening: each request is recorded with the client's error, and stop() returns."""
    sent: list[Sent] = []
    recorded_three = threading.Event()

    def record(one: Sent) -> None:
        sent.append(one)
        if len(sent) >= 3:
            recorded_three.set()

    generator = OpenLoop("http://127.0.0.1:9", 50.0, timeout_s=1.0, clock=MonotonicClock(),
                         plan=lambda seq, t: Planned(seq, t, "GET", "/"), record=record)
    run_until(generator, recorded_three, "3 requests recorded")
    assert len(sent) == generator.sent >= 3
    ended = [(s.status, (s.error or "").partition(":")[0]) for s in sent]
    assert ended == [(None, "ConnectionRefusedError")] * len(sent)


# Alone on the machine (make test runs the other unit tests two at a time): it holds the generator to its
# schedule within ON_TIME_S, which another process's CPU can take.
@pytest.mark.serial
def test_requests_due_during_a_burst_of_answers_are_sent_between_them(server: str) -> None:
    """Every other request is held until the same moment, then all are answered at once, and each answer takes the
    generator 3 ms to record: the requests that come due meanwhile start between those answers, not after the last
    of them (a generator that reads all the answers first starts them late, by up to the whole burst)."""
    clock = MonotonicClock()
    recorded_at: dict[int, float] = {}
    sent: dict[int, Sent] = {}
    held = answered = 0
    last_answered_at = 0.0
    past_the_burst = threading.Event()

    def plan(seq: int, planned_t: float) -> Planned:
        nonlocal held
        if seq % 2 == 0 and planned_t < HELD_UNTIL:
            held += 1
            return Planned(seq, planned_t, "GET", "/held")
        return Planned(seq, planned_t, "GET", "/fast")

    def record(one: Sent) -> None:
        nonlocal answered, last_answered_at
        recorded_at[one.planned.seq], sent[one.planned.seq] = clock.now(), one
        if one.planned.path == "/held":
            answered += 1
            last_answered_at = clock.now()
            time.sleep(0.003)  # an answer that costs the generator's thread 3 ms
        elif answered == held and one.planned.planned_t > max(HELD_UNTIL, last_answered_at):
            past_the_burst.set()  # every held request answered, and one planned after the last answer recorded

    generator = OpenLoop(server, RATE, timeout_s=5.0, clock=clock, record=record, plan=plan)
    run_until(generator, past_the_burst, "a request planned after the burst recorded")
    burst = sorted(recorded_at[seq] for seq, one in sent.items() if one.planned.path == "/held")
    assert len(burst) >= 30 and burst[-1] - burst[0] >= 0.08  # reading the burst took the generator that long
    meanwhile = [one for one in sent.values() if burst[0] + 0.01 < one.planned.planned_t < burst[-1] - 0.01]
    assert len(meanwhile) >= 5
    after_the_burst = [(one.planned.seq, round(one.started_t - burst[-1], 4)) for one in meanwhile
                       if one.started_t >= burst[-1]]
    assert not after_the_burst, after_the_burst


def test_what_the_process_held_before_traffic_is_left_out_of_the_collectors_scans_while_it_runs(server: str) -> None:
    """A full collection of the lab's objects took 0.11-0.17 s mid-run: they are frozen while any generator runs,
    and given back to the collector when the last one stops; stopping one twice, or one never started, changes
    nothing."""

    def generator() -> OpenLoop:
        return OpenLoop(server, 20.0, timeout_s=1.0, clock=MonotonicClock(),
                        plan=lambda seq, t: Planned(seq, t, "GET", "/fast"), record=lambda _: None)

    first, second, never = generator(), generator(), generator()
    first.start()
    frozen = gc.get_freeze_count()
    assert frozen > 1000
    second.start()
    first.stop()
    first.stop()
    never.stop()
    assert gc.get_freeze_count() > frozen // 2  # the second still runs (frozen objects are still freed by count)
    second.stop()
    assert gc.get_freeze_count() == 0


OUT_OF_FILES = """
import resource, sys, time
from lab.clock import MonotonicClock
from lab.record.loadgen import OpenLoop, Planned
soft, hard = (int(n) for n in sys.argv[2:4])
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
errors = []
generator = OpenLoop(sys.argv[1], 200.0, timeout_s=5.0, clock=MonotonicClock(),
                     plan=lambda seq, t: Planned(seq, t, "GET", "/slow"), record=lambda sent: errors.append(sent.error))
generator.start()
print("soft limit while running:", resource.getrlimit(resource.RLIMIT_NOFILE)[0])
time.sleep(0.5)
try:
    generator.stop()
    print("stopped")
except RuntimeError as exc:
    print(exc)
print("recorded errors:", sorted(set(errors), key=str))
"""


def run_with_open_files(server: str, soft: int, hard: int) -> str:
    return subprocess.run([sys.executable, "-c", OUT_OF_FILES, server, str(soft), str(hard)], capture_output=True,
                          text=True, timeout=30, check=True).stdout


def test_the_soft_limit_of_open_files_is_raised_to_the_hard_one(server: str) -> None:
    """Each request in flight holds a connection: 120 of them (200 req/s hanging 0.6 s) pass a soft limit of 64."""
    out = run_with_open_files(server, 64, 4096)
    assert "soft limit while running: 4096" in out and "stopped" in out
    assert "recorded errors: [None]" in out  # every /slow answered (503, no transport error)


def test_a_generator_out_of_file_descriptors_fails_rather_than_blame_the_service(server: str) -> None:
    """With a hard limit of 64, the connections run out: the generator stops and says why (the run is then
    unreliable), and no request is recorded as failing for it."""
    out = run_with_open_files(server, 64, 64)
    assert "the load generator failed: OSError(24, 'Too many open files')" in out
    assert "Too many open files" not in out.split("recorded errors:")[1]
