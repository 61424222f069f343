"""What the stack's observability part (Prometheus, Alertmanager, the database's exporter) costs per stack, the
figures the lab's defaults are decided with (on for drills if a game day still fits 5 stacks on 2 cores; on for
`lab run` if it adds under 1 s): its containers' memory as `docker stats` counts it, their CPU idle and under the
users' default 20 req/s, what the scrapes add to the rest of the stack, and the stack's start time with and without
it. A stack of each kind is measured the same way, one after the other, so the difference is the part's."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from typing import Any

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from bench.load import idle_cost, lab_generator
from bench.stats import summarize
from lab.stack import observability
from lab.stack.engine import Engine
from lab.stack.images import LabImages
from lab.stack.owners import owner_token
from lab.stack.project import Stack

SECONDS = 20.0
"""Length of each CPU measurement, idle and under load."""
RATE = 20.0
"""The users' default rate (`lab run` without --rate)."""
TARGETS = 7
"""What the part's Prometheus scrapes: three apps, HAProxy, the database's exporter, Alertmanager, itself."""


def observability_cost(engine: Engine, lab_images: LabImages, trials: int = 3) -> dict[str, Any]:
    """Start and removal times (`trials` of each, alternating), then one stack without the part and one with it,
    each idle for SECONDS and under RATE req/s for SECONDS."""
    starts: dict[str, list[float]] = {"without": [], "with": []}
    downs: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(trials):
        for kind, observe in (("without", False), ("with", True)):
            stack = engine.stack(images=lab_images, observe=observe)
            started = time.perf_counter()
            try:
                stack.up()
                starts[kind].append(time.perf_counter() - started)
            finally:
                started = time.perf_counter()
                stack.down()
                downs[kind].append(time.perf_counter() - started)
    measured: dict[str, Any] = {"start_s": {kind: summarize(values) for kind, values in starts.items()},
                                "down_s": {kind: summarize(values) for kind, values in downs.items()}}
    for observe in (False, True):
        with engine.stack(images=lab_images, observe=observe, owner=owner_token()) as stack:
            kind = "with" if observe else "without"
            scraping_s = first_scrapes_s(stack) if observe else None
            idle = idle_cost(stack, SECONDS)
            memory = docker_stats_memory_mib(stack)
            loaded = lab_generator(stack, RATE, SECONDS)
            measured[kind] = {"idle": idle, "memory_mib": memory,
                              "load_cpu_percent_of_one_core": loaded["cpu_percent_of_one_core"],
                              "load_failed": loaded["failed"], "load_sent": loaded["sent"]}
            if scraping_s is not None:
                measured["every_target_up_after_ready_s"] = round(scraping_s, 2)
    measured["part"] = part_cost(measured["with"])
    measured["added_to_the_rest"] = added_to_the_rest(measured["without"], measured["with"])
    return measured


def first_scrapes_s(stack: Stack) -> float:
    """Seconds from the stack being ready until Prometheus has scraped every target successfully."""
    urls = observability.urls(stack.containers())
    assert urls is not None
    started = time.perf_counter()
    url = f"{urls.prometheus}/api/v1/query?{urllib.parse.urlencode({'query': 'sum(up)'})}"

    def targets_up() -> float:
        with urllib.request.urlopen(url, timeout=5) as response:
            result = json.loads(response.read())["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0

    Retrying(stop=stop_after_delay(60), wait=wait_fixed(0.1), retry=retry_if_result(lambda up: up < TARGETS))(
        targets_up)
    return time.perf_counter() - started


def docker_stats_memory_mib(stack: Stack) -> dict[str, float]:
    """Each container's memory as `docker stats` shows it: its usage less the page cache it could drop (inactive
    files: Prometheus's own blocks and WAL, read back rarely)."""
    found = {}
    for name, container in stack.containers().items():
        memory = container.stats(stream=False, one_shot=True)["memory_stats"]
        usage, stats = memory.get("usage", 0), memory.get("stats", {})
        inactive = stats.get("total_inactive_file", stats.get("inactive_file", 0))  # cgroup v1, v2
        found[name] = round((usage - inactive if inactive < usage else usage) / 2**20, 1)
    return found


def part_cost(observed: dict[str, Any]) -> dict[str, Any]:
    """The part's own containers: memory, and CPU idle and under load, each and in all."""
    idle = {name: observed["idle"]["containers_cpu_percent_of_one_core"][name] for name in observability.SERVICES}
    loaded = {name: observed["load_cpu_percent_of_one_core"][name] for name in observability.SERVICES}
    memory = {name: observed["memory_mib"][name] for name in observability.SERVICES}
    return {"memory_mib": memory, "memory_mib_total": round(sum(memory.values()), 1),
            "idle_cpu_percent_of_one_core": idle, "idle_cpu_total": round(sum(idle.values()), 1),
            "load_cpu_percent_of_one_core": loaded, "load_cpu_total": round(sum(loaded.values()), 1)}


def added_to_the_rest(without: dict[str, Any], observed: dict[str, Any]) -> dict[str, float]:
    """What the scrapes add to the stack's other containers (the apps' /metrics, HAProxy's exporter, the exporter's
    queries on the database) and to the engine (two more health checks), in per cent of a core."""
    def rest(cpu: dict[str, float]) -> float:
        return sum(value for name, value in cpu.items() if name not in (*observability.SERVICES, "docker-proxy",
                                                                          "host (all)"))

    return {
        "idle_other_containers": round(rest(observed["idle"]["containers_cpu_percent_of_one_core"])
                                       - rest(without["idle"]["containers_cpu_percent_of_one_core"]), 1),
        "load_other_containers": round(rest(observed["load_cpu_percent_of_one_core"])
                                       - rest(without["load_cpu_percent_of_one_core"]), 1),
        "idle_engine": round(observed["idle"]["engine_cpu_percent_of_one_core"]
                             - without["idle"]["engine_cpu_percent_of_one_core"], 1),
    }


def describe(measured: dict[str, Any]) -> list[str]:
    """The figures in lines, for the console."""
    part, added, start, down = measured["part"], measured["added_to_the_rest"], measured["start_s"], measured["down_s"]
    return [
        f"observability part: memory {part['memory_mib_total']} MiB ({part['memory_mib']})",
        f"observability part: CPU idle {part['idle_cpu_total']}% of a core ({part['idle_cpu_percent_of_one_core']}), "
        f"at {RATE:g} req/s {part['load_cpu_total']}% ({part['load_cpu_percent_of_one_core']})",
        f"scrapes add to the other containers: idle {added['idle_other_containers']}%, at {RATE:g} req/s "
        f"{added['load_other_containers']}%; engine {added['idle_engine']}% of a core",
        f"stack up to ready, median of {start['without']['n']}: without {start['without']['median']:.2f} s, with "
        f"{start['with']['median']:.2f} s; every target scraped {measured['every_target_up_after_ready_s']} s after "
        "ready",
        f"stack down, median of {down['without']['n']}: without {down['without']['median']:.2f} s, with "
        f"{down['with']['median']:.2f} s",
    ]
