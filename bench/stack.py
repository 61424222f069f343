"""Stack life cycle and the whole `lab run`: cold bootstrap + build, warm up to healthy, down, and the lab's
overhead (wall time of a run minus the scenario's own duration), with the run's step skew and effect times."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.stats import summarize
from lab import images, lifecycle
from lab.events import read_events
from lab.images import LabImages
from lab.settings import BOOTSTRAPPED_BASE_IMAGE


def cold_build(engine: lifecycle.Engine) -> float:
    """Remove the lab's images and the bootstrapped base, then bootstrap and build everything again."""
    client = engine.client
    for image in client.images.list(name="outage-lab/*"):
        for tag in image.tags:
            client.images.remove(tag, force=True)
    if images.image_exists(client, BOOTSTRAPPED_BASE_IMAGE):
        client.images.remove(BOOTSTRAPPED_BASE_IMAGE, force=True)
    started = time.perf_counter()
    lifecycle.ensure_images(engine, progress=lambda message: print(f"  {message}", file=sys.stderr))
    return time.perf_counter() - started


def up_down(engine: lifecycle.Engine, lab_images: LabImages, trials: int) -> dict[str, Any]:
    ups, downs = [], []
    for _ in range(trials):
        stack = engine.stack(images=lab_images)
        started = time.perf_counter()
        try:
            stack.up()
            ups.append(time.perf_counter() - started)
        finally:
            started = time.perf_counter()
            stack.down()
            downs.append(time.perf_counter() - started)
    return {"up_to_healthy": summarize(ups), "down": summarize(downs)}


def image_sizes(engine: lifecycle.Engine, lab_images: LabImages) -> dict[str, float]:
    return {name: round(engine.client.images.get(getattr(lab_images, name)).attrs["Size"] / 2**20, 1)
            for name in ("base", "db", "app", "lb", "tools")}


def whole_run(speed: float) -> dict[str, Any]:
    """One real `lab run`, timed from outside, and what its own recording says about timing."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "lab.cli", "run", "db-network-misconfig", "--speed", str(speed),
                               "--out", str(out)], capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        events = read_events(out / "events.jsonl")
        summary = json.loads((out / "summary.json").read_text())
    planned = next(e["planned_duration_s"] for e in events if e["kind"] == "run.started")
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
    }


def _gap(milestones: dict[str, float], start: str, end: str) -> float | None:
    if start in milestones and end in milestones:
        return round(milestones[end] - milestones[start], 4)
    return None
