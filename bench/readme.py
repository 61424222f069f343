"""The README's Performance table, written by the bench between two markers from the results files: each row from
the newest file that measured it, so a section run alone (`--only X`) refreshes its own rows and keeps the others,
each row saying which run it came from and every run cited saying which machine it ran on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bench.rows import ROWS, Figures, Results, Row

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"
NOTICE = "<!-- written by `make bench` from bench/results/ (the rows are bench/rows.py): edit those, not this -->"


class MarkersMissing(Exception):
    """The README has no BEGIN ... END pair to write between."""


@dataclass(frozen=True)
class Source:
    """One results file: its name (the UTC time of its run) and what it holds."""

    name: str
    results: Results

    @property
    def when(self) -> str:
        """20261208T101500Z -> 2026-12-08 10:15Z."""
        stamp = self.name
        return f"{stamp[0:4]}-{stamp[4:6]}-{stamp[6:8]} {stamp[9:11]}:{stamp[11:13]}Z"

    @property
    def machine(self) -> str:
        machine = self.results.get("machine", {})
        memory = f"{machine['memory_gib']:.0f} GiB" if "memory_gib" in machine else "memory not recorded"
        return f"{machine.get('cpus', '?')} cores, {memory}, Docker {machine.get('docker', '?')}"


def load_sources(directory: Path) -> list[Source]:
    """Every results file of `directory`, newest first (their names are UTC times, so they sort by age)."""
    paths = sorted(directory.glob("*.json"), key=lambda path: path.stem, reverse=True)
    return [Source(path.stem, json.loads(path.read_text())) for path in paths]


def newest_figures(row: Row, sources: list[Source]) -> tuple[Figures, Source] | None:
    for source in sources:
        figures = row.read(source.results)
        if figures is not None:
            return figures, source
    return None


def render_block(sources: list[Source], rows: tuple[Row, ...] = ROWS) -> str:
    """The table between the markers: one line per row, and under it the runs it cites with their machines."""
    lines = [BEGIN, NOTICE, "", "| measure | median | p99, or range of N | measured | command |",
             "| --- | ---: | ---: | --- | --- |"]
    cited: dict[str, Source] = {}
    for row in rows:
        found = newest_figures(row, sources)
        if found is None:
            lines.append(f"| {row.measure} | not measured yet | | | `{row.command}` |")
            continue
        figures, source = found
        cited[source.name] = source
        lines.append(f"| {row.measure} | {figures.central} | {figures.spread} | {source.when} | `{row.command}` |")
    lines.append("")
    lines.extend(f"- {source.when}: `bench/results/{name}.json`, {source.machine}" for name, source in
                 sorted(cited.items(), reverse=True))
    lines.append(END)
    return "\n".join(lines)


def replace_block(text: str, block: str) -> str:
    """`text` with what lies between the markers (the markers included) replaced by `block`."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise MarkersMissing(f"no {BEGIN} ... {END} pair to write the table between")
    return text[:start] + block + text[end + len(END):]


def update(readme: Path, results_dir: Path) -> None:
    readme.write_text(replace_block(readme.read_text(), render_block(load_sources(results_dir))))
