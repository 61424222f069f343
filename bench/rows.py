"""The measures of the README's Performance table: for each, the bench section that measures it (so the command that
makes it), and how its figures are read from one results file. A measure a results file lacks reads as None, and
the table takes it from an older file instead (bench/readme.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Results = dict[str, Any]
"""One results file as `python -m bench` writes it (bench/results/<utc>.json)."""

LOAD_RATE = 1000.0
"""The rate of the table's load and `--rate` rows: the largest of the bench's default --rates."""
PREPARED_AHEAD = "lab: helper prepared ahead, applied by a line on its stdin"
STARTED_AT_OFFSET = "lab: helper started at the offset"
FRESH_CONTAINER = "fresh helper container per action (Pumba's way)"


@dataclass(frozen=True)
class Figures:
    central: str
    """The median, or the one value a single measurement gives."""
    spread: str
    """The p99, or the range of the N runs (a p99 of a handful of runs would only repeat the maximum)."""


@dataclass(frozen=True)
class Row:
    measure: str
    section: str
    """The `--only` section whose run fills this row."""
    read: Callable[[Results], Figures | None]
    flags: str = ""
    """Flags the section needs besides --only (the cold build removes the lab's images first, so it is asked for)."""

    @property
    def command(self) -> str:
        return f'make bench ARGS="{(self.flags + " ") if self.flags else ""}--only {self.section}"'


def _number(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def _seconds(value: float) -> str:
    return f"{value:.2f} s"


def _ms(value_s: float) -> str:
    return f"{value_s * 1000:.1f} ms"


def _median_p99(*summaries: dict[str, Any] | None, show: Callable[[float], str] = _seconds) -> Figures | None:
    """Several measures in one row, each's median and p99 joined by " / "; None unless every one was measured."""
    if any(summary is None or "median" not in summary for summary in summaries):
        return None
    present = [summary for summary in summaries if summary is not None]
    return Figures(" / ".join(show(s["median"]) for s in present), " / ".join(show(s["p99"]) for s in present))


def _median_range(summary: dict[str, Any] | None, show: Callable[[float], str] = _seconds, note: str = "") -> \
        Figures | None:
    if summary is None or "median" not in summary:
        return None
    return Figures(show(summary["median"]),
                   f"{show(summary['min'])} - {show(summary['max'])} of {summary['n']}{note}")


def _injection(results: Results, *mechanisms: str) -> Figures | None:
    measured = results.get("injection", {})
    return _median_p99(*(measured.get(name, {}).get("apply") for name in mechanisms), show=_ms)


def _run_at(results: Results, rate: float) -> Results | None:
    return next((run for run in results.get("lab_runs", []) if run.get("rate") == rate), None)


def _load_row(results: Results, tool: str, fault: bool) -> Results | None:
    return next((row for row in results.get("load", []) if row["tool"] == tool and row["target_rate"] == LOAD_RATE
                 and (row["fault"] != "none") == fault and "error" not in row), None)


def _overhead(results: Results) -> Figures | None:
    measured = results.get("run_overhead")
    if measured is None:
        return None
    return _median_range(measured["overhead_s"], note=f", speed {measured['speed']:g}")


def _chart(results: Results) -> Figures | None:
    charts = [run["chart_s"] for run in results.get("lab_runs", []) if run.get("chart_s") is not None]
    if not charts:
        return None
    charts.sort()
    return Figures(_seconds(charts[len(charts) // 2]), f"{_seconds(charts[0])} - {_seconds(charts[-1])} of "
                                                       f"{len(charts)}")


def _step_skew(results: Results) -> Figures | None:
    run = results.get("lab_run")
    return _median_p99(run["skew_fault_and_action_steps"], show=_ms) if run else None


def _lateness(results: Results) -> Figures | None:
    run = _run_at(results, LOAD_RATE)
    if run is None or not run.get("lateness") or run["lateness"].get("p99_s") is None:
        return None
    return Figures(_ms(run["lateness"]["p50_s"]), f"{_ms(run['lateness']['p99_s'])} (one run, {run['verdict']})")


def _run_cpu(results: Results) -> Figures | None:
    run = _run_at(results, LOAD_RATE)
    cpu = run.get("cpu_percent_of_one_core") if run else None
    if not cpu:
        return None
    apps = sum(value for name, value in cpu.items() if name.startswith("app"))
    return Figures(f"{cpu['lab process (whole run)']:.0f}% / {apps:.0f}% of a core", "one run")


def _highest_passing_rate(results: Results) -> Figures | None:
    tried = [run for run in results.get("lab_runs", []) if run.get("rate")]
    if not tried:
        return None
    passed = [run["rate"] for run in tried if run["verdict"] == "pass"]
    rates = ", ".join(f"{run['rate']:,.0f}: {run['verdict']}" for run in tried)
    return Figures(f"{max(passed):,.0f} req/s" if passed else "none passed", f"tried {rates}")


def _achieved(results: Results) -> Figures | None:
    lab, wrk = _load_row(results, "lab generator", True), _load_row(results, "wrk", True)
    if lab is None or wrk is None:
        return None
    return Figures(f"{_number(lab['achieved_rate'], 1)} / {_number(wrk['achieved_rate'], 1)} req/s", "one run")


def _generator(results: Results) -> Figures | None:
    lab = _load_row(results, "lab generator", False)
    if lab is None or not lab.get("lateness_ms"):
        return None
    return Figures(f"{lab['tool_cpu_percent_of_one_core']:.0f}% of a core",
                   f"lateness p99 {lab['lateness_ms']['p99']} ms")


def _latency(results: Results) -> Figures | None:
    lab, wrk = _load_row(results, "lab generator", False), _load_row(results, "wrk", False)
    if lab is None or wrk is None:
        return None
    return Figures(f"{lab['latency_ms']['p50']} / {wrk['latency_ms']['p50']} ms",
                   f"{lab['latency_ms']['p99']} / {wrk['latency_ms']['p99']} ms")


def _idle(results: Results) -> Figures | None:
    idle = results.get("idle")
    if idle is None:
        return None
    return Figures(f"{idle['stack_cpu_percent_of_one_core']}% / {idle['engine_cpu_percent_of_one_core']}% of a core, "
                   f"{idle['stack_memory_mib']:.0f} MiB", "one 20 s measurement")


def _cold(results: Results) -> Figures | None:
    return Figures(f"{results['cold_build_s']:.0f} s", "one build") if "cold_build_s" in results else None


def _image_sizes(results: Results) -> Figures | None:
    sizes = results.get("image_sizes_mib")
    if not sizes:
        return None
    named = [name for name in ("db", "app", "lb", "tools", "observe") if name in sizes]
    return Figures(" / ".join(f"{sizes[name]:.0f}" for name in named) + " MiB",
                   f"{' / '.join(named)}; base {sizes.get('base', 0):.0f} MiB")


def _observability(results: Results) -> Figures | None:
    measured = results.get("observability")
    if measured is None:
        return None
    part, up = measured["part"], measured["start_s"]
    return Figures(f"{part['memory_mib_total']:.0f} MiB / {part['idle_cpu_total']}% / {part['load_cpu_total']}% of a "
                   f"core; up {_seconds(up['without']['median'])} -> {_seconds(up['with']['median'])}",
                   f"{up['with']['n']} starts each; every target scraped "
                   f"{measured.get('every_target_up_after_ready_s', '?')} s after ready")


ROWS: tuple[Row, ...] = (
    Row("stack up to ready / down (warm images)", "stack",
        lambda r: _median_p99(r.get("stack", {}).get("up_to_healthy"), r.get("stack", {}).get("down"))),
    Row("restart of an app replica until it serves again (what `lab restart` waits for)", "stack",
        lambda r: _median_range(r.get("stack", {}).get("restart_to_serving"))),
    Row("`lab run db-network-misconfig` overhead beyond the scenario's own duration, at its largest speed", "run",
        _overhead),
    Row("step skew in `lab run` (fault and action steps)", "run", _step_skew),
    Row("the report's chart at a run's end (matplotlib already imported)", "run", _chart),
    Row(f"start lateness p50 / p99 of `lab run --rate {LOAD_RATE:.0f}` at the seed's largest speed", "run", _lateness),
    Row("same run: CPU of the lab's process / the three apps", "run", _run_cpu),
    Row("highest `--rate` whose whole run passed every check", "run", _highest_passing_rate),
    Row("fault injection, on time (helper prepared ahead)", "injection", lambda r: _injection(r, PREPARED_AHEAD)),
    Row("same, helper started at the offset / Pumba-style fresh container", "injection",
        lambda r: _injection(r, STARTED_AT_OFFSET, FRESH_CONTAINER)),
    Row("idle stack: CPU in its containers / Docker engine, memory", "load", _idle),
    Row(f"load at {LOAD_RATE:,.0f} req/s through the seed fault: lab generator / wrk achieved", "load", _achieved),
    Row(f"lab generator at {LOAD_RATE:,.0f} req/s, no fault: its CPU, start lateness p99", "load", _generator),
    Row(f"the stack at {LOAD_RATE:,.0f} req/s, no fault: latency by the lab's generator (from the planned start) "
        "/ by wrk", "load", _latency),
    Row("cold bootstrap + build of all images (removes the lab's images first)", "images", _cold, flags="--cold"),
    Row("image sizes", "images", _image_sizes),
    Row("the observability part per stack (`lab up --observe`): memory / CPU idle / CPU at 20 req/s of its "
        "containers; stack up without -> with it", "observability", _observability),
)
