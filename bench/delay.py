"""How precisely the `latency` family adds its delay: one query's round trip on an open connection, timed by psql
(`\\timing`) in app-2's network namespace, before and while the fault holds app-2's packets to the database, at
10, 100 and 500 ms with no jitter and with 10%, and at a delay of a microsecond (the cost of the queue itself).

The added delay of each query is its time minus the median time without the fault: its median should be within
1 ms of the setting and its p99 within 5 ms (Toxiproxy's own tests accept 10 ms per direction)."""

from __future__ import annotations

import re
from typing import Any

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from bench.injection import example_fault
from bench.stats import summarize
from lab.stack import labels
from lab.stack.builtin import DB
from lab.stack.images import LabImages
from lab.stack.project import Stack

SETTINGS_MS = (0.001, 10.0, 100.0, 500.0)
TIMING = re.compile(r"^Time: ([0-9.]+) ms", re.MULTILINE)
STATS = re.compile(r"packets (\d+) held \d+ most-held \d+ late-over-1ms (\d+)")


def query_times_s(stack: Stack, lab_images: LabImages, queries: int) -> list[float]:
    """`queries` times `select 1` on one connection from app-2's network namespace, each as psql timed it."""
    script = "{ echo '\\timing on'; for i in $(seq " + str(queries) + "); do echo 'select 1;'; done; } " \
             "| psql -X -q -A -t"
    output = stack.client.containers.run(
        lab_images.db, [script], entrypoint=["bash", "-c"], remove=True, cap_drop=["ALL"],
        network_mode=f"container:{stack.container('app-2').id}", environment=stack.databases.environment(DB),
        labels={**labels.run_labels(stack.run_id, labels.ROLE_FAULT), labels.PROBE: "true"})
    return [float(found) / 1000 for found in TIMING.findall(output.decode())]


def latency_precision(stack: Stack, lab_images: LabImages) -> list[dict[str, Any]]:
    baseline = query_times_s(stack, lab_images, 100)
    base = sorted(baseline)[len(baseline) // 2]
    rows = [{"delay_ms": 0.0, "jitter_ms": 0.0, "query_ms": summarize([t * 1000 for t in baseline], "ms")}]
    for delay_ms in SETTINGS_MS:
        for jitter_share in (0.0, 0.1) if delay_ms >= 10 else (0.0,):
            fault = example_fault(stack, lab_images.tools, "latency", f"bench-latency-{len(rows)}",
                                  delay_ms=delay_ms, jitter_ms=delay_ms * jitter_share)
            try:
                fault.apply()
                times = query_times_s(stack, lab_images, 20 if delay_ms >= 500 else 60)
                packets, late = queue_counts(fault, len(times))
            finally:
                fault.revert()
            rows.append({"delay_ms": delay_ms, "jitter_ms": delay_ms * jitter_share,
                         "added_ms": summarize([(t - base) * 1000 for t in times], "ms"),
                         "packets_held": packets, "released_over_1ms_late": late})
    return rows


def queue_counts(fault: Any, queries: int) -> tuple[int, int]:
    """(packets the delay queue held, of them released more than 1 ms after their time), as its stats line says
    once it counts every query's packet (it is written each second): a late query with no late release was late
    elsewhere than in the queue."""
    def counts() -> tuple[int, int]:
        found = STATS.search(fault.verify().detail)
        return (int(found.group(1)), int(found.group(2))) if found else (0, 0)

    return Retrying(stop=stop_after_delay(5), wait=wait_fixed(0.2),
                    retry=retry_if_result(lambda seen: seen[0] < queries),
                    retry_error_callback=lambda state: state.outcome.result() if state.outcome else (0, 0))(counts)
