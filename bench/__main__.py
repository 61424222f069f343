"""`python -m bench [--trials N] [--cold] [--speed S]`: prints the figures and writes bench/results/<utc>.json."""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.injection import family_latency, injection_latency
from bench.recorder import recorder_capacity
from bench.skew import scheduler_skew
from bench.stack import cold_build, image_sizes, up_down, whole_run
from lab import lifecycle
from lab.leftovers import owner_token
from lab.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"


def ms(stats: dict[str, Any]) -> list[str]:
    return [f"{stats[key] * 1000:.1f}" if key in stats else "-" for key in ("min", "median", "p99", "max")]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--cold", action="store_true", help="also time bootstrap + build from nothing")
    parser.add_argument("--speed", type=float, default=5.0, help="speed of the whole `lab run` measured")
    args = parser.parse_args()
    os.environ.setdefault("LAB_OFFLINE", "1")
    console = Console()
    engine = lifecycle.Engine.connect(Settings.from_env())
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                           "python": platform.python_version(),
                                           "docker": engine.client.version().get("Version")},
                               "when": datetime.now(UTC).isoformat(timespec="seconds")}
    if args.cold:
        console.print("cold bootstrap + build ...")
        results["cold_build_s"] = round(cold_build(engine), 1)
    lab_images = lifecycle.ensure_images(engine, progress=console.print)
    results["image_sizes_mib"] = image_sizes(engine, lab_images)
    console.print("scheduler skew ...")
    results["scheduler_skew"] = scheduler_skew()
    console.print("stack up/down ...")
    results["stack"] = up_down(engine, lab_images, trials=max(2, args.trials // 3))
    with engine.stack(images=lab_images, owner=owner_token()) as stack:
        console.print("injection mechanisms ...")
        results["injection"] = injection_latency(stack, lab_images.tools, args.trials)
        console.print("fault families: apply / verify / revert ...")
        results["families"] = family_latency(stack, lab_images.tools, max(3, args.trials // 2))
        console.print("recorder capacity ...")
        results["recorder"] = recorder_capacity(stack.endpoints().lb_url)
    console.print(f"whole lab run at speed {args.speed:g} ...")
    results["lab_run"] = whole_run(args.speed)
    show(console, results)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"written to {path}")


def show(console: Console, results: dict[str, Any]) -> None:
    table = Table(title=f"outage-lab bench ({results['machine']['cpus']} cores, Docker {results['machine']['docker']})")
    for column in ("what", "min ms", "median ms", "p99 ms", "max ms"):
        table.add_column(column)
    table.add_row("runner schedule skew (no-op steps)", *ms(results["scheduler_skew"]))
    run = results["lab_run"]
    table.add_row("lab run: skew of fault/action steps", *ms(run["skew_fault_and_action_steps"]))
    for name, phases in results["injection"].items():
        table.add_row(f"apply: {name}", *ms(phases["apply"]))
        table.add_row(f"revert: {name}", *ms(phases["revert"]))
    for kind, phases in results.get("families", {}).items():
        for phase in ("apply", "verify", "revert"):
            table.add_row(f"{kind}: {phase}", *ms(phases[phase]))
    for name, stats in results["stack"].items():
        table.add_row(f"stack {name.replace('_', ' ')}", *ms(stats))
    console.print(table)
    capacity = Table(title="recorder capacity (8 s per rate)")
    for column in ("target req/s", "achieved", "sent", "recorded", "lost", "CPU % of a core", "RSS MiB"):
        capacity.add_column(column)
    for row in results["recorder"]:
        capacity.add_row(*(str(row[key]) for key in ("target_rate", "achieved_rate", "sent", "recorded", "lost",
                                                       "cpu_percent_of_one_core", "rss_mib")))
    console.print(capacity)
    console.print(f"lab run at speed {run['speed']:g}: exit {run['exit_code']}, wall {run['wall_s']} s for a "
                  f"{run['scenario_s']} s scenario: overhead {run['overhead_s']} s; fault effect "
                  f"{run['fault_effect_s']} s; fault -> first failed request "
                  f"{run['fault_to_first_failed_request_s']} s; fix -> recovered {run['fix_to_recovered_s']} s")
    if "cold_build_s" in results:
        console.print(f"cold bootstrap + build: {results['cold_build_s']} s")
    console.print(f"image sizes (MiB): {results['image_sizes_mib']}")


if __name__ == "__main__":
    main()
