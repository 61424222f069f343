"""Load: the lab's open-loop generator and wrk side by side, at the same rate against the same stack, without a
fault and through the seed fault (app-2's packets to the database dropped: a third of the requests hang 3 s).

For each: the rate achieved, latency percentiles, the CPU the tool used, whether it kept the schedule, and where
the rest of the CPU went (each container, the docker-proxy processes in front of the published ports, the host
in all). The lab's generator times every request from its planned start and records how late it really started;
wrk (Debian's, not wrk2) paces by a per-connection delay and times from the actual send, so it can only say how
far its achieved rate fell short."""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.injection import example_fault
from lab.clock import MonotonicClock
from lab.judge.lateness import lateness_of
from lab.judge.requests import percentile
from lab.record.events import EventLog, read_events
from lab.record.users import SyntheticUsers
from lab.scenario.traffic import TrafficSpec
from lab.stack.project import Stack

WARMUP_S = 2.0
WRK_CONNECTIONS = 100
WRK_SCRIPT = """
-- The lab's mix: 70% reads of orders that exist, 30% writes. Each connection waits `delay` ms before each of its
-- requests, so 100 connections make the target rate while answers are quick (closed loop: a hung answer stalls
-- its connection, and the rate falls).
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS"))
local max_id = tonumber(os.getenv("WRK_MAX_ID"))
local n = 0
function delay() return delay_ms end
function request()
  n = n + 1
  if math.random() < 0.7 then
    return wrk.format("GET", "/orders/" .. math.random(1, max_id))
  end
  return wrk.format("POST", "/orders", {["Content-Type"] = "application/json"},
                    '{"item": "wrk-' .. n .. '", "quantity": 1}')
end
"""


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def container_cpu_s(stack: Stack) -> dict[str, float]:
    """CPU seconds each of the stack's containers has used so far (Docker's cgroup counters)."""
    return {name: container.stats(stream=False, one_shot=True)["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9
            for name, container in stack.containers().items()}


def processes_cpu_s(names: frozenset[str]) -> float:
    """CPU seconds (user + system) of every process of this machine whose name is one of `names`, from /proc."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().split()
        except OSError:
            continue
        if fields[1].strip("()") in names:
            total += (int(fields[13]) + int(fields[14])) / tick
    return total


def proxy_cpu_s() -> float:
    """CPU seconds of every docker-proxy process (Docker's userland proxy carries traffic to 127.0.0.1 ports)."""
    return processes_cpu_s(frozenset({"docker-proxy"}))


def host_busy_s() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@contextmanager
def cpu_meter(stack: Stack) -> Iterator[dict[str, Any]]:
    """Measures the block: wall time, and per cent of one core used by each container, the proxies and the host."""
    found: dict[str, Any] = {}
    containers, proxy, host, wall = container_cpu_s(stack), proxy_cpu_s(), host_busy_s(), time.perf_counter()
    yield found
    seconds = time.perf_counter() - wall
    after = container_cpu_s(stack)
    found["cpu_percent_of_one_core"] = {
        **{name: round(100 * (after[name] - containers[name]) / seconds, 1) for name in containers},
        "docker-proxy": round(100 * (proxy_cpu_s() - proxy) / seconds, 1),
        "host (all)": round(100 * (host_busy_s() - host) / seconds, 1),
    }


def lab_generator(stack: Stack, rate: float, seconds: float) -> dict[str, Any]:
    """The lab's own traffic (as `lab run` sends it), recorded to a scratch event log."""
    with tempfile.TemporaryDirectory() as tmp, cpu_meter(stack) as meter:
        clock = MonotonicClock()
        log = EventLog(Path(tmp) / "events.jsonl", clock)
        users = SyntheticUsers(stack.endpoints().lb_url, TrafficSpec(rate=rate, read_ratio=0.7, timeout_s=10), log,
                               clock)
        cpu = time.process_time()
        users.start()
        time.sleep(seconds)
        users.stop()
        cpu = time.process_time() - cpu
        elapsed = clock.now()
        log.close()
        requests = [e for e in read_events(log.path) if e["kind"] == "request"]
    latencies = [e["latency_s"] for e in requests]
    lateness = lateness_of([e["started_t"] - e["t"] for e in requests])
    failed = sum(1 for e in requests if not e["ok"])
    errors = Counter(str(e["error"])[:80] for e in requests if not e["ok"])
    return {
        "tool": "lab generator", "target_rate": rate, "achieved_rate": round(users.sent / seconds, 1),
        "sent": users.sent, "recorded": len(requests), "failed": failed,
        "latency_ms": {f"p{q}": _ms(percentile(latencies, q)) for q in (50, 90, 99)} | {"max": _ms(max(latencies))},
        "lateness_ms": {"p50": _ms(lateness.p50_s), "p99": _ms(lateness.p99_s), "max": _ms(lateness.max_s),
                        "over_10ms": lateness.late},
        "kept_schedule": lateness.p99_s is not None and lateness.p99_s <= 0.005,
        "tool_cpu_percent_of_one_core": round(100 * cpu / elapsed, 1), **meter,
        "errors": dict(errors.most_common(3)), "load_average": os.getloadavg()[0],
    }


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed: `make bench` installs it (scripts/ensure-bench-tools.sh)")
    return found


def wrk(stack: Stack, rate: float, seconds: float, max_id: int) -> dict[str, Any]:
    """wrk at `rate` with WRK_CONNECTIONS connections, each pausing connections / rate between its requests."""
    with tempfile.TemporaryDirectory() as tmp, cpu_meter(stack) as meter:
        script = Path(tmp) / "mix.lua"
        script.write_text(WRK_SCRIPT)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            [ensure_wrk(), "-t2", f"-c{WRK_CONNECTIONS}", f"-d{seconds:g}s", "--timeout", "10s", "--latency",
             "-s", str(script), stack.endpoints().lb_url],
            capture_output=True, text=True, check=True, timeout=seconds + 60,
            env={**os.environ, "WRK_DELAY_MS": f"{WRK_CONNECTIONS * 1000 / rate:g}", "WRK_MAX_ID": str(max_id)})
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = done.stdout
    sent = int(_find(r"(\d+) requests in", output))
    achieved = sent / seconds
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "tool": "wrk", "target_rate": rate, "achieved_rate": round(achieved, 1), "sent": sent, "recorded": sent,
        "failed": int(_find(r"Non-2xx or 3xx responses: (\d+)", output, "0"))
        + sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output)),
        "latency_ms": {f"p{q}": _wrk_ms(_find(rf"\s{q}%\s+(\S+)", output)) for q in (50, 90, 99)}
        | {"max": _wrk_ms(_find(r"Latency\s+\S+\s+\S+\s+(\S+)", output))},
        "lateness_ms": None, "kept_schedule": achieved >= 0.99 * rate,
        "tool_cpu_percent_of_one_core": round(100 * cpu / seconds, 1), **meter,
    }


def _find(pattern: str, text: str, default: str | None = None) -> str:
    found = re.search(pattern, text)
    if found is None:
        if default is None:
            raise RuntimeError(f"wrk's output has no {pattern!r}: {text[-500:]}")
        return default
    return found.group(1)


def _wrk_ms(value: str) -> float:
    """wrk prints durations as 812.00us, 3.21ms, 2.99s or 1.02m."""
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return round(float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit], 2)


def max_order_id(stack: Stack) -> int:
    import psycopg

    with psycopg.connect(stack.databases.conninfo(), password=stack.db_password) as connection:
        row = connection.execute("SELECT coalesce(max(id), 0) FROM orders").fetchone()
    return int(row[0]) if row else 0


def through_seed_fault(stack: Stack, tools_image: str, measure: Callable[[], dict[str, Any]],
                       name: str) -> dict[str, Any]:
    """`measure` with the seed scenario's fault in effect throughout (applied and reverted around it)."""
    fault = example_fault(stack, tools_image, "packet-drop", f"bench-load-{name}")
    fault.prepare(arm_timeout_s=120)
    fault.apply()
    try:
        time.sleep(WARMUP_S)  # connections already open fail on their keepalive; new ones hang
        return measure()
    finally:
        fault.revert()
        stack.wait_healthy(timeout_s=60, poll_s=0.2)


def side_by_side(stack: Stack, tools_image: str, rates: tuple[float, ...], seconds: float) -> list[dict[str, Any]]:
    """Each rate: the lab's generator then wrk, first without a fault, then through the seed fault."""
    rows = []
    lab_generator(stack, 100, WARMUP_S)  # pools warm, and orders exist for wrk to read
    for rate in rates:
        for fault in (False, True):
            for tool in ("lab generator", "wrk"):
                def measure(tool: str = tool, rate: float = rate) -> dict[str, Any]:
                    if tool == "wrk":
                        return wrk(stack, rate, seconds, max(1, max_order_id(stack)))
                    return lab_generator(stack, rate, seconds)

                label = f"{tool.split()[0]}-{rate:g}"
                try:
                    row = through_seed_fault(stack, tools_image, measure, label) if fault else measure()
                except Exception as exc:  # one failed measurement must not lose the others (the bench runs long)
                    row = {"tool": tool, "target_rate": rate, "error": f"{type(exc).__name__}: {exc}"}
                rows.append({**row, "fault": "seed (packet-drop app-2 -> db)" if fault else "none"})
                time.sleep(3)  # the hung requests' aftermath drains before the next measurement
    return rows


def engine_cpu_s() -> float:
    """CPU seconds of the Docker engine's own processes (dockerd, containerd and its shims: where each health
    check's exec is paid for, outside the containers)."""
    return processes_cpu_s(frozenset({"dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2", "runc"}))


def idle_cost(stack: Stack, seconds: float = 20.0) -> dict[str, Any]:
    """An idle stack (no traffic): each container's CPU and memory, and the engine's share for their health checks
    (the engine's CPU while only this stack runs: other stacks on the machine would add theirs)."""
    time.sleep(2.0)  # past the start
    engine = engine_cpu_s()
    with cpu_meter(stack) as meter:
        time.sleep(seconds)
    engine = engine_cpu_s() - engine
    memory = {name: round(container.stats(stream=False, one_shot=True)["memory_stats"].get("usage", 0) / 2**20, 1)
              for name, container in stack.containers().items()}
    containers = {k: v for k, v in meter["cpu_percent_of_one_core"].items() if k in memory}
    return {"containers_cpu_percent_of_one_core": containers,
            "stack_cpu_percent_of_one_core": round(sum(containers.values()), 1),
            "engine_cpu_percent_of_one_core": round(100 * engine / seconds, 1),
            "memory_mib": memory, "stack_memory_mib": round(sum(memory.values()), 1)}
