"""The README's Performance table as the bench writes it (bench/readme.py, bench/rows.py): from results dicts like
those `python -m bench` writes, without Docker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.readme import BEGIN, END, MarkersMissing, Source, load_sources, render_block, replace_block
from bench.rows import FRESH_CONTAINER, LOAD_RATE, PREPARED_AHEAD, ROWS, STARTED_AT_OFFSET, Row

MACHINE = {"cpus": 2, "memory_gib": 23.5, "docker": "20.10.24+dfsg1"}


def stats(median: float, low: float | None = None, high: float | None = None, n: int = 5) -> dict[str, Any]:
    low = median if low is None else low
    high = median if high is None else high
    return {"n": n, "unit": "s", "min": low, "median": median, "p99": high, "max": high}


def run(rate: float | None, overhead: float = 3.0, verdict: str = "pass") -> dict[str, Any]:
    return {"rate": rate, "verdict": verdict, "overhead_s": overhead, "chart_s": 0.3, "exit_code": 0,
            "skew_fault_and_action_steps": stats(0.0002, 0.0001, 0.0003),
            "lateness": {"p50_s": 0.0004, "p99_s": 0.0031},
            "cpu_percent_of_one_core": {"lab process (whole run)": 24.0, "app-1": 12.0, "app-2": 13.0, "app-3": 14.0}}


def load_row(tool: str, fault: bool) -> dict[str, Any]:
    return {"tool": tool, "target_rate": LOAD_RATE, "fault": "seed (packet-drop app-2 -> db)" if fault else "none",
            "achieved_rate": 1000.1 if tool == "lab generator" else 99.4, "tool_cpu_percent_of_one_core": 20.0,
            "lateness_ms": {"p99": 1.3} if tool == "lab generator" else None,
            "latency_ms": {"p50": 1.7, "p99": 48.0}}


def every_section() -> dict[str, Any]:
    """A results file of a whole `make bench --cold`: something for every row."""
    return {
        "machine": MACHINE, "image_sizes_mib": {"base": 111.3, "db": 449.4, "app": 172.5, "lb": 122.9, "tools": 172.4},
        "cold_build_s": 86.2,
        "stack": {"up_to_healthy": stats(2.8, 2.7, 3.1), "down": stats(1.1, 1.0, 1.3), "restart_to_serving":
                  stats(1.7, 1.5, 2.0)},
        "lab_runs": [run(None, 3.4), run(None, 3.5), run(None, 3.7), run(500.0), run(LOAD_RATE)],
        "lab_run": run(None, 3.4), "run_overhead": {"speed": 7.7, "overhead_s": stats(3.5, 3.4, 3.7, n=3)},
        "injection": {name: {"apply": stats(0.0217, 0.02, 0.0504), "revert": stats(0.14)}
                      for name in (PREPARED_AHEAD, STARTED_AT_OFFSET, FRESH_CONTAINER)},
        "idle": {"stack_cpu_percent_of_one_core": 5.1, "engine_cpu_percent_of_one_core": 5.2, "stack_memory_mib": 109},
        "load": [load_row(tool, fault) for tool in ("lab generator", "wrk") for fault in (False, True)],
        "observability": {"part": {"memory_mib_total": 62.3, "idle_cpu_total": 5.5, "load_cpu_total": 5.0},
                          "start_s": {"without": stats(2.74, n=3), "with": stats(3.59, n=3)},
                          "every_target_up_after_ready_s": 5.25},
    }


def table_lines(block: str) -> list[str]:
    """The table's rows, without its header and separator."""
    return [line for line in block.splitlines() if line.startswith("| ")][2:]


def line_of(block: str, row: Row) -> str:
    found = [line for line in table_lines(block) if line.startswith(f"| {row.measure} |")]
    assert len(found) == 1, f"{row.measure!r} appears {len(found)} times in\n{block}"
    return found[0]


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def test_one_row_per_measure_each_with_its_figures_and_command() -> None:
    """A whole run fills every row once, in the rows' order, each naming the command that makes it."""
    block = render_block([Source("20261208T101500Z", every_section())])
    assert [cells(line)[0] for line in table_lines(block)] == [row.measure for row in ROWS]
    for row in ROWS:
        measure, median, spread, measured, command = cells(line_of(block, row))
        assert median and median != "not measured yet", measure
        assert spread, measure
        assert measured == "2026-12-08 10:15Z"
        assert command == f"`{row.command}`"


def test_commands_name_the_section_and_its_flags() -> None:
    """Each command is `make bench` with the row's section; the cold build asks for --cold as well."""
    commands = {row.measure: row.command for row in ROWS}
    assert commands["stack up to ready / down (warm images)"] == 'make bench ARGS="--only stack"'
    cold = next(row for row in ROWS if row.flags)
    assert cold.command == 'make bench ARGS="--cold --only images"'


def test_figures_are_median_and_p99_or_range_of_n() -> None:
    """Stack rows read median and p99; the run overhead reads median and the range of its N runs at its speed."""
    block = render_block([Source("20261208T101500Z", every_section())])
    stack = cells(line_of(block, ROWS[0]))
    assert stack[1:3] == ["2.80 s / 1.10 s", "3.10 s / 1.30 s"]
    overhead = next(row for row in ROWS if "overhead" in row.measure)
    assert cells(line_of(block, overhead))[1:3] == ["3.50 s", "3.40 s - 3.70 s of 3, speed 7.7"]


def test_block_is_between_the_markers_and_the_rest_is_untouched() -> None:
    """Only what lies between the markers changes, and writing twice gives the same text."""
    readme = f"# Title\n\n## Performance\n\nIntro.\n\n{BEGIN}\nold table\n{END}\n\n## Development\nmake test\n"
    block = render_block([Source("20261208T101500Z", every_section())])
    written = replace_block(readme, block)
    assert written.startswith("# Title\n\n## Performance\n\nIntro.\n\n" + BEGIN)
    assert written.endswith(END + "\n\n## Development\nmake test\n")
    assert "old table" not in written
    assert written.count(BEGIN) == written.count(END) == 1
    assert replace_block(written, block) == written


def test_a_readme_without_markers_is_refused() -> None:
    """No markers: the bench says so rather than appending a table somewhere."""
    with pytest.raises(MarkersMissing):
        replace_block("# Title\n\n## Performance\n", render_block([]))


def test_a_section_run_alone_keeps_other_rows_from_the_newest_earlier_run_that_has_them() -> None:
    """`--only stack` refreshes the stack rows; the run rows come from the newest older file with runs (not an
    older one still), the injection rows from the only file that has them, each row dated by its own file."""
    oldest = every_section()
    older = {key: value for key, value in every_section().items() if key not in ("injection", "stack")}
    older["run_overhead"] = {"speed": 7.7, "overhead_s": stats(2.9, 2.8, 3.0, n=5)}
    newest = {"machine": {**MACHINE, "cpus": 4}, "image_sizes_mib": oldest["image_sizes_mib"],
              "stack": {"up_to_healthy": stats(2.0), "down": stats(0.9), "restart_to_serving": stats(1.6)}}
    block = render_block([Source("20261209T080000Z", newest), Source("20261208T120000Z", older),
                          Source("20261207T090000Z", oldest)])
    by_section: dict[str, set[str]] = {}
    for row in ROWS:
        by_section.setdefault(row.section, set()).add(cells(line_of(block, row))[3])
    assert by_section["stack"] == {"2026-12-09 08:00Z"}
    assert by_section["run"] == {"2026-12-08 12:00Z"}
    assert by_section["injection"] == {"2026-12-07 09:00Z"}
    overhead = next(row for row in ROWS if "overhead" in row.measure)
    assert cells(line_of(block, overhead))[1] == "2.90 s"
    # Every run cited is listed with its own machine: the table never mixes machines silently.
    assert "- 2026-12-09 08:00Z: `bench/results/20261209T080000Z.json`, 4 cores, 24 GiB" in block
    assert "- 2026-12-07 09:00Z: `bench/results/20261207T090000Z.json`, 2 cores, 24 GiB" in block


def test_a_row_no_run_has_measured_says_so_and_keeps_its_command() -> None:
    """Before any run with load figures the load rows stay, empty, with the command that would fill them."""
    block = render_block([Source("20261208T101500Z", {"machine": MACHINE, "stack": every_section()["stack"]})])
    load_rows = [row for row in ROWS if row.section == "load"]
    assert load_rows
    for row in load_rows:
        assert cells(line_of(block, row)) == [row.measure, "not measured yet", "", "", f"`{row.command}`"]


def test_an_older_results_file_without_memory_says_so() -> None:
    """Files written before the bench recorded memory are cited as such, not with a guess."""
    older = every_section() | {"machine": {"cpus": 2, "docker": "20.10.24"}}
    assert "2 cores, memory not recorded, Docker 20.10.24" in render_block([Source("20261201T000000Z", older)])


def test_results_files_are_read_newest_first(tmp_path: Path) -> None:
    """The files' names are their UTC times: the newest comes first, whatever order the directory lists them in."""
    for name in ("20261207T090000Z", "20261209T080000Z", "20261208T120000Z"):
        (tmp_path / f"{name}.json").write_text(json.dumps({"machine": MACHINE}))
    (tmp_path / "failed-runs").mkdir()
    assert [source.name for source in load_sources(tmp_path)] == [
        "20261209T080000Z", "20261208T120000Z", "20261207T090000Z"]
