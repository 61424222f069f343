"""Recorder capacity: open-loop traffic through the LB at rising rates; is every request sent recorded, and
what does it cost the lab process in CPU and memory?"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from lab.clock import MonotonicClock
from lab.events import EventLog, read_events
from lab.scenario import TrafficSpec
from lab.traffic import SyntheticUsers

RATES = (20, 100, 200, 300, 400, 500)
SECONDS = 8.0


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def recorder_capacity(lb_url: str, rates: tuple[int, ...] = RATES) -> list[dict[str, Any]]:
    rows = []
    for rate in rates:
        with tempfile.TemporaryDirectory() as tmp:
            clock = MonotonicClock()
            log = EventLog(Path(tmp) / "events.jsonl", clock)
            users = SyntheticUsers(lb_url, TrafficSpec(rate=rate, read_ratio=0.7, timeout_s=10), log, clock)
            cpu_before, wall_before = time.process_time(), time.perf_counter()
            users.start()
            clock.wait_until(SECONDS, _never())
            users.stop()
            cpu, wall = time.process_time() - cpu_before, time.perf_counter() - wall_before
            log.close()
            events = read_events(log.path)
        recorded = sum(1 for e in events if e["kind"] == "request")
        rows.append({
            "target_rate": rate, "achieved_rate": round(users.sent / SECONDS, 1), "sent": users.sent,
            "recorded": recorded, "lost": users.sent - recorded,
            "failed": sum(1 for e in events if e["kind"] == "request" and not e["ok"]),
            "cpu_percent_of_one_core": round(100 * cpu / wall, 1), "rss_mib": round(_rss_mib(), 1),
            "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        })
    return rows


def _never() -> Any:
    import threading

    return threading.Event()
