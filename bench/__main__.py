"""`python -m bench [--trials N] [--cold] [--speed S] [--only X,Y]`: prints the figures, writes
bench/results/<utc>.json and the README's Performance table from it (bench/readme.py)."""

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

from bench.deadman import deadman
from bench.delay import latency_precision
from bench.injection import family_latency, injection_latency
from bench.load import idle_cost, side_by_side
from bench.observability import describe as describe_observability
from bench.observability import observability_cost
from bench.readme import update as update_readme
from bench.skew import scheduler_skew
from bench.stability import stability
from bench.stack import cold_build, image_sizes, up_down, whole_runs
from lab.record.rate_measure import RateMeasure, save_measure, this_host
from lab.scenario.pacing import largest_allowed
from lab.scenario.reader import load
from lab.settings import BUILTIN_SCENARIOS, Settings
from lab.stack.engine import Engine
from lab.stack.owners import owner_token

RESULTS = Path(__file__).resolve().parent / "results"
README = Path(__file__).resolve().parent.parent / "README.md"
# "images" measures nothing of its own (image sizes are in every results file): `--only images` is the cheapest run,
# and with --cold the one that times the build.
SECTIONS = {"skew", "stack", "injection", "families", "latency", "load", "run", "deadman", "stability", "images",
            "observability"}
SEED = "db-network-misconfig"


def ms(stats: dict[str, Any]) -> list[str]:
    return [f"{stats[key] * 1000:.1f}" if key in stats else "-" for key in ("min", "median", "p99", "max")]


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--cold", action="store_true", help="also time bootstrap + build from nothing")
    parser.add_argument("--speed", type=float, default=None,
                        help=f"speed of the whole `lab run`s measured (default: the largest {SEED} allows)")
    parser.add_argument("--run-trials", type=int, default=5,
                        help="whole `lab run`s at the scenario's own rate, whose overhead's median is reported")
    parser.add_argument("--kills", type=int, default=10, help="kill -9 of `lab run` per stage (0: skip)")
    parser.add_argument("--rates", type=float, nargs="+", default=[500.0, 1000.0],
                        help="rates of the side-by-side load comparison and of the whole `lab run`s")
    parser.add_argument("--run-rates", type=float, nargs="*", default=None,
                        help="rates of the whole `lab run`s besides the scenario's own (default: --rates)")
    parser.add_argument("--load-seconds", type=float, default=10.0, help="length of each load measurement")
    parser.add_argument("--stability-runs", type=int, default=10,
                        help="runs of each library scenario and variant at its largest speed")
    parser.add_argument("--stability-others", type=int, default=3,
                        help="runs of each at half its largest speed, and at its largest with one core busy")
    parser.add_argument("--scenarios", nargs="+", help="the stability section plays these scenarios only")
    parser.add_argument("--only", help="comma-separated sections: " + ", ".join(sorted(SECTIONS)) + " (default: all)")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    sections = set(args.only.split(",")) if args.only else SECTIONS
    os.environ.setdefault("LAB_OFFLINE", "1")
    console = Console()
    speed = args.speed or largest_allowed(load(BUILTIN_SCENARIOS / f"{SEED}.yaml", check_stack=False))
    engine = Engine.connect(Settings.from_env())
    results: dict[str, Any] = {"machine": machine(engine), "when": datetime.now(UTC).isoformat(timespec="seconds")}
    if args.cold:
        console.print("cold bootstrap + build ...")
        results["cold_build_s"] = round(cold_build(engine), 1)
    lab_images = engine.images(progress=console.print)
    results["image_sizes_mib"] = image_sizes(engine, lab_images)
    if "skew" in sections:
        console.print("scheduler skew ...")
        results["scheduler_skew"] = scheduler_skew()
    if "stack" in sections:
        console.print("stack up/down ...")
        results["stack"] = up_down(engine, lab_images, trials=max(2, args.trials // 3))
    if "observability" in sections:
        console.print("observability part: start time with and without, memory, CPU idle and at 20 req/s ...")
        results["observability"] = observability_cost(engine, lab_images)
    if sections & {"injection", "families", "latency", "load"}:
        with engine.stack(images=lab_images, owner=owner_token()) as stack:
            if "load" in sections:
                console.print("idle stack ...")
                results["idle"] = idle_cost(stack)
            if "injection" in sections:
                console.print("injection mechanisms ...")
                results["injection"] = injection_latency(stack, lab_images.tools, args.trials)
            if "families" in sections:
                console.print("fault families: apply / verify / revert ...")
                results["families"] = family_latency(stack, lab_images.tools, max(3, args.trials // 2))
            if "latency" in sections:
                console.print("latency family: delay added per query round trip ...")
                results["latency"] = latency_precision(stack, lab_images)
            if "load" in sections:
                console.print("load: the lab's generator and wrk side by side ...")
                results["load"] = side_by_side(stack, lab_images.tools, tuple(args.rates), args.load_seconds)
    if "run" in sections:
        rates = [None] * args.run_trials + list(args.rates if args.run_rates is None else args.run_rates)
        results |= whole_runs(speed, rates, engine.client, console.print)
        keep_rate_measure(results["lab_runs"], console)
    if "deadman" in sections and args.kills > 0:
        console.print(f"kill -9 of lab run, {args.kills} times at each stage ...")
        results["deadman"] = deadman(engine.client, lab_images.tools, args.kills)
    if "stability" in sections:
        console.print("stability of the verdicts: the library, again and again ...")
        results["stability"] = stability(args.stability_runs, args.stability_others,
                                         set(args.scenarios) if args.scenarios else None, console.print)
    show(console, results)
    if "stability" in results:
        show_stability(console, results["stability"])
    console.print(f"image sizes (MiB): {results['image_sizes_mib']}")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"written to {path}")
    update_readme(README, RESULTS)
    # The directory is ignored so that exploratory runs stay local; the files the README cites are committed, so a
    # fresh clone's partial run keeps the other rows and says where they came from.
    console.print(f"README's Performance table rewritten; to commit the run it cites: "
                  f"git add -f {path.relative_to(README.parent)}")


def machine(engine: Engine) -> dict[str, Any]:
    """What the README's table says each figure was measured on."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"cpus": os.cpu_count(), "memory_gib": round(memory / 2**30, 1), "platform": platform.platform(),
            "python": platform.python_version(), "docker": engine.client.version().get("Version")}


def show_stability(console: Console, rows: list[dict[str, Any]]) -> None:
    table = Table(title="stability: verdicts other than the expected one (PASS; or unreliable with a core busy)")
    for column in ("scenario", "condition", "speed", "runs", "verdicts", "unexpected", "checks that failed"):
        table.add_column(column)
    for row in rows:
        failed = sorted({check.split(":")[0] for run in row["failed"] for check in run})
        table.add_row(row["scenario"] + (f" --variant {row['variant']}" if row["variant"] else ""), row["condition"],
                      f"{row['speed']:g}", str(row["runs"]),
                      ", ".join(f"{verdict} {count}" for verdict, count in sorted(row["verdicts"].items())),
                      str(row["unexpected"]), "; ".join(failed))
    console.print(table)


def keep_rate_measure(runs: list[dict[str, Any]], console: Console) -> None:
    """The highest rate whose whole run passed every check here, kept for `lab run` to warn above it."""
    passed = [run["rate"] for run in runs if run["rate"] and run["verdict"] == "pass"]
    if not passed:
        return
    measure = RateMeasure(host=this_host(), cores=os.cpu_count() or 1, rate=max(passed),
                          measured_at=datetime.now(UTC).isoformat(timespec="seconds"))
    save_measure(Settings.from_env().runs_dir, measure)
    console.print(f"this machine carries {measure.rate:g} req/s (every check passed): kept for `lab run`")


def show(console: Console, results: dict[str, Any]) -> None:
    table = Table(title=f"outage-lab bench ({results['machine']['cpus']} cores, Docker {results['machine']['docker']})")
    for column in ("what", "min ms", "median ms", "p99 ms", "max ms"):
        table.add_column(column)
    if "scheduler_skew" in results:
        table.add_row("runner schedule skew (no-op steps)", *ms(results["scheduler_skew"]))
    run = results.get("lab_run")
    if run:
        table.add_row("lab run: skew of fault/action steps", *ms(run["skew_fault_and_action_steps"]))
    for name, phases in results.get("injection", {}).items():
        table.add_row(f"apply: {name}", *ms(phases["apply"]))
        table.add_row(f"revert: {name}", *ms(phases["revert"]))
    for kind, phases in results.get("families", {}).items():
        for phase in ("apply", "verify", "revert"):
            table.add_row(f"{kind}: {phase}", *ms(phases[phase]))
    for row in results.get("latency", []):
        stats = row.get("added_ms") or row["query_ms"]
        what = (f"latency {row['delay_ms']:g} ms, jitter {row['jitter_ms']:g} ms: added per query ("
                f"{row['released_over_1ms_late']} of {row['packets_held']} packets released >1 ms late)"
                if "added_ms" in row else "one query's round trip, no fault")
        table.add_row(what, *(f"{stats[key]:.1f}" for key in ("min", "median", "p99", "max")))
    for stage, measured in results.get("deadman", {}).items():
        if measured["fault_gone"]:
            table.add_row(f"kill -9 at {stage}: fault gone ({measured['kills']} kills)", *ms(measured["fault_gone"]))
        table.add_row(f"kill -9 at {stage}: nothing of the run left", *ms(measured["all_gone"]))
    for name, stats in results.get("stack", {}).items():
        table.add_row(f"stack {name.replace('_', ' ')}", *ms(stats))
    if table.row_count:
        console.print(table)
    load = Table(title="load: the lab's generator and wrk at the same rate, same stack")
    for column in ("tool", "fault", "target", "achieved", "recorded", "failed", "p50 ms", "p99 ms", "max ms",
                   "lateness p99 / max ms", "kept schedule", "tool CPU %", "containers CPU %", "proxy %", "host %"):
        load.add_column(column)
    for row in results.get("load", []):
        if "error" in row:
            load.add_row(row["tool"], row["fault"], f"{row['target_rate']:g}", f"failed: {row['error']}")
            continue
        cpu = row["cpu_percent_of_one_core"]
        late = row["lateness_ms"]
        containers = sum(v for k, v in cpu.items() if k not in ("docker-proxy", "host (all)"))
        load.add_row(row["tool"], row["fault"], f"{row['target_rate']:g}", str(row["achieved_rate"]),
                     str(row["recorded"]), str(row["failed"]),
                     *(str(row["latency_ms"][k]) for k in ("p50", "p99", "max")),
                     f"{late['p99']} / {late['max']}" if late else "not measured", str(row["kept_schedule"]),
                     str(row["tool_cpu_percent_of_one_core"]), f"{containers:.0f}", str(cpu["docker-proxy"]),
                     str(cpu["host (all)"]))
    if load.row_count:
        console.print(load)
    if "idle" in results:
        idle = results["idle"]
        console.print(f"idle stack: {idle['stack_cpu_percent_of_one_core']}% of a core in its containers "
                      f"({idle['containers_cpu_percent_of_one_core']}), engine {idle['engine_cpu_percent_of_one_core']}"
                      f"%, {idle['stack_memory_mib']} MiB")
    for run in results.get("lab_runs", []):
        console.print(f"lab run at speed {run['speed']:g}, rate {run['rate'] or 'default'}: exit {run['exit_code']} "
                      f"({run['verdict']}), wall {run['wall_s']} s for a {run['scenario_s']} s scenario: overhead "
                      f"{run['overhead_s']} s; lateness {run['lateness']}; steady p50/p99 {run['steady_p50_s']} / "
                      f"{run['steady_p99_s']} s; fault effect {run['fault_effect_s']} s; fix -> recovered "
                      f"{run['fix_to_recovered_s']} s; CPU % of a core {run['cpu_percent_of_one_core']}")
    for line in describe_observability(results["observability"]) if "observability" in results else []:
        console.print(line)
    if "cold_build_s" in results:
        console.print(f"cold bootstrap + build: {results['cold_build_s']} s")


if __name__ == "__main__":
    main()
