"""Stability of the verdicts: every scenario of the library and every variant, played again and again at the
largest speed it allows (the speed its test in CI plays), at half that speed, and at the largest with one core kept
busy by another process. Expected: PASS every time, or "unreliable" (exit 5) where the busy machine could not keep
the generator on time; a FAIL that a rerun turns into a PASS is a flipping verdict."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lab.scenario.library import plays
from lab.scenario.pacing import largest_allowed
from lab.scenario.shaping import with_variant
from lab.settings import BUILTIN_SCENARIOS

ACCEPTED = {"pass"}
ACCEPTED_WHEN_BUSY = {"pass", "unreliable"}


@contextmanager
def one_core_busy() -> Iterator[None]:
    """Another process spinning on one core for as long as the block runs."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


FAILED_RUNS = Path(__file__).resolve().parent / "results" / "failed-runs"
"""Where the recordings of the runs whose verdict was not PASS are kept."""


def play(name: str, variant: str | None, speed: float) -> dict[str, Any]:
    """One `lab run`: its exit code, verdict and the checks that failed."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        argv = [sys.executable, "-m", "lab.cli", "run", name, "--speed", f"{speed:g}", "--out", str(out),
                *(["--variant", variant] if variant else [])]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        try:
            summary = json.loads((out / "summary.json").read_text())
        except (OSError, ValueError):
            return {"exit_code": done.returncode, "verdict": "no summary", "failed": [done.stderr.strip()[-200:]]}
        if summary["verdict"] != "pass":  # kept: a verdict that flips is explained from its recording
            kept = FAILED_RUNS / f"{summary['run_id']}-{name}"
            shutil.copytree(out, kept)
            summary["checks"].append({"name": "recording", "passed": False, "detail": str(kept)})
    return {"exit_code": done.returncode, "verdict": summary["verdict"],
            "failed": [f"{c['name']}: {c['detail']}" for c in summary["checks"] if not c["passed"]]}


def stability(runs: int, others: int, only: set[str] | None = None, progress: Any = print) -> list[dict[str, Any]]:
    """A row per scenario (or variant) and condition: its verdicts counted, and the failed checks of each run whose
    verdict was not accepted."""
    rows = []
    for scenario, variant in plays((BUILTIN_SCENARIOS,)):
        if only and scenario.name not in only:
            continue
        largest = largest_allowed(scenario if variant is None else with_variant(scenario, variant))
        half = max(0.1, round(largest / 2, 1))
        conditions = (("largest speed", largest, runs, False), ("half speed", half, others, False),
                      ("largest, one core busy", largest, others, True))
        for condition, speed, count, busy in conditions:
            results = []
            for number in range(count):
                progress(f"{scenario.name}{' --variant ' + variant if variant else ''} at {speed:g} "
                         f"({condition}) {number + 1}/{count} ...")
                if busy:
                    with one_core_busy():
                        results.append(play(scenario.name, variant, speed))
                else:
                    results.append(play(scenario.name, variant, speed))
            accepted = ACCEPTED_WHEN_BUSY if busy else ACCEPTED
            rows.append({"scenario": scenario.name, "variant": variant, "condition": condition, "speed": speed,
                         "runs": count, "verdicts": dict(Counter(r["verdict"] for r in results)),
                         "unexpected": sum(1 for r in results if r["verdict"] not in accepted),
                         "failed": [r["failed"] for r in results if r["verdict"] not in accepted]})
    return rows
