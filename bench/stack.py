"""Stack life cycle and the whole `lab run`: cold bootstrap + build, warm up to healthy, down, and the lab's
overhead (wall time of a run minus the scenario's own duration), with the run's step skew and effect times."""

from __future__ import annotations

import contextlib
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker

from bench.stats import summarize
from lab.judge.requests import percentile
from lab.record.events import Event, read_events
from lab.report.chart import timeline_svg
from lab.settings import BOOTSTRAPPED_BASE_IMAGE
from lab.stack import images, labels
from lab.stack.engine import Engine
from lab.stack.images import LabImages


def cold_build(engine: Engine) -> float:
    """Remove the lab's images and the bootstrapped base, then bootstrap and build everything again."""
    client = engine.client
    for image in client.images.list(name="outage-lab/*"):
        for tag in image.tags:
            client.images.remove(tag, force=True)
    if images.image_exists(client, BOOTSTRAPPED_BASE_IMAGE):
        client.images.remove(BOOTSTRAPPED_BASE_IMAGE, force=True)
    started = time.perf_counter()
    engine.images(progress=lambda message: print(f"  {message}", file=sys.stderr))
    return time.perf_counter() - started


RESTARTED = "app-2"
"""The replica restarted in each trial: the one the seed scenario's fault is on."""


def up_down(engine: Engine, lab_images: LabImages, trials: int) -> dict[str, Any]:
    """Up to ready, one app replica restarted until it serves again (what `lab restart` does after its own start),
    then down; `trials` times."""
    ups: list[float] = []
    downs: list[float] = []
    restarts: list[float] = []
    for _ in range(trials):
        stack = engine.stack(images=lab_images)
        started = time.perf_counter()
        try:
            stack.up()
            ups.append(time.perf_counter() - started)
            started = time.perf_counter()
            stack.restart(RESTARTED)
            stack.wait_serving(RESTARTED)
            restarts.append(time.perf_counter() - started)
        finally:
            started = time.perf_counter()
            stack.down()
            downs.append(time.perf_counter() - started)
    return {"up_to_healthy": summarize(ups), "down": summarize(downs), "restart_to_serving": summarize(restarts)}


def image_sizes(engine: Engine, lab_images: LabImages) -> dict[str, float]:
    return {name: round(engine.client.images.get(getattr(lab_images, name)).attrs["Size"] / 2**20, 1)
            for name in ("base", "db", "app", "lb", "tools", "observe")}


class StackCpu:
    """Samples the CPU counters of one `lab run`'s stack containers while it goes on (another process): the last
    reading of each minus its first is what it used. The run is found by the run id its recording starts with."""

    def __init__(self, client: docker.DockerClient, run_dir: Path) -> None:
        self.client = client
        self.run_dir = run_dir
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> StackCpu:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run_id(self) -> str | None:
        path = self.run_dir / "events.jsonl"
        if not path.exists():
            return None
        return next((str(e["run_id"]) for e in read_events(path) if e["kind"] == "run.started"), None)

    def _sample(self) -> None:
        run_id = None
        while not self._stop.wait(1.0):
            run_id = run_id or self._run_id()
            if run_id is None:
                continue
            for container in self.client.containers.list(filters=labels.run_filter(run_id, labels.ROLE_STACK)):
                service = container.labels.get("com.docker.compose.service", container.name)
                try:
                    used = container.stats(stream=False, one_shot=True)["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9
                except (docker.errors.APIError, KeyError, ValueError):  # going away as the run ends
                    continue
                self.first.setdefault(service, used)
                self.last[service] = used

    def percent_of_one_core(self, seconds: float) -> dict[str, float]:
        return {name: round(100 * (self.last[name] - self.first[name]) / seconds, 1) for name in sorted(self.first)}


def whole_run(speed: float, rate: float | None = None, client: docker.DockerClient | None = None) -> dict[str, Any]:
    """One real `lab run`, timed from outside, and what its own recording says about timing; with a client, the
    CPU each stack container and the lab process used."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        argv = [sys.executable, "-m", "lab.cli", "run", "db-network-misconfig", "--speed", str(speed), "--out",
                str(out), *(["--rate", f"{rate:g}"] if rate else [])]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        with StackCpu(client, out) if client else contextlib.nullcontext() as sampled:
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        events = read_events(out / "events.jsonl")
        summary = json.loads((out / "summary.json").read_text())
    chart = _chart_s(events, summary)
    planned = next(e["planned_duration_s"] for e in events if e["kind"] == "run.started")
    cpu: dict[str, float] = {}
    if isinstance(sampled, StackCpu):
        lab_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        cpu = {"lab process (whole run)": round(100 * lab_cpu / wall, 1), **sampled.percent_of_one_core(planned)}
    milestones = {m["name"]: m["t"] for m in summary["milestones"]}
    action_steps = [e for e in events if e["kind"] == "step" and e["action"] != "note"]
    return {
        "exit_code": done.returncode, "speed": speed, "wall_s": round(wall, 2), "scenario_s": planned,
        "overhead_s": round(wall - planned, 2),
        "skew_fault_and_action_steps": summarize([abs(e["skew_s"]) for e in action_steps]),
        "fault_effect_s": [e["effect_s"] for e in events if e["kind"] == "fault.applied"],
        "fault_to_first_failed_request_s": _gap(milestones, "fault injected", "impact started"),
        "fix_to_recovered_s": _gap(milestones, "mitigation", "recovered"),
        "error_rate_during_fault": summary["fault"]["overall"]["error_rate"] if summary.get("fault") else None,
        "rate": rate, "verdict": summary["verdict"], "lateness": summary.get("lateness"),
        "checks": {c["name"]: c["passed"] for c in summary["checks"]},
        "steady_p50_s": summary["steady"]["overall"]["p50_s"] if summary.get("steady") else None,
        "steady_p99_s": _steady_p99(events, summary),
        "chart_s": chart, "cpu_percent_of_one_core": cpu, "stderr_tail": done.stderr[-300:] if done.returncode else "",
    }


def whole_runs(speed: float, rates: list[float | None], client: docker.DockerClient,
               progress: Callable[[str], object]) -> dict[str, Any]:
    """A whole run at each of `rates` (None: the scenario's own rate); the overhead is the median of those at the
    scenario's own rate, whose traffic is the lightest, so that what is left is the lab's own cost."""
    runs = []
    for number, rate in enumerate(rates, start=1):
        progress(f"whole lab run {number}/{len(rates)} at speed {speed:g}, rate {rate or 'default'} ...")
        runs.append(whole_run(speed, rate, client))
    return {"lab_runs": runs, "lab_run": runs[0], "run_overhead": {
        "speed": speed, "overhead_s": summarize([run["overhead_s"] for run in runs if run["rate"] is None])}}


def _chart_s(events: list[Event], summary: dict[str, Any]) -> float:
    """The report's chart drawn again from the run's recording, in this process: the run's own report draws it
    among other work, so only a separate drawing times it alone. The first drawing pays matplotlib's import, which
    a run pays once whatever the chart costs, so that one is drawn untimed."""
    timeline_svg(events, summary)
    started = time.perf_counter()
    timeline_svg(events, summary)
    return round(time.perf_counter() - started, 3)


def _steady_p99(events: list[dict[str, Any]], summary: dict[str, Any]) -> float | None:
    window = summary.get("steady")
    if not window:
        return None
    latencies = [e["latency_s"] for e in events
                 if e["kind"] == "request" and window["start"] <= e["t"] < window["end"]]
    return percentile(latencies, 99)


def _gap(milestones: dict[str, float], start: str, end: str) -> float | None:
    if start in milestones and end in milestones:
        return round(milestones[end] - milestones[start], 4)
    return None
