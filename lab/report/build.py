"""report.html and postmortem.md for a run directory."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from lab.events import Event
from lab.report.chart import timeline_svg
from lab.report.narrative import measure_proofs, postmortem_context
from lab.scenario import Scenario
from lab.verdict import judge, load_run

FIRST_ERRORS_SHOWN = 8


@dataclass(frozen=True)
class Reports:
    html: Path
    postmortem: Path
    render_s: float


def _environment(autoescape: bool) -> Environment:
    return Environment(loader=PackageLoader("lab.report", "templates"), undefined=StrictUndefined,
                       autoescape=select_autoescape(["html"]) if autoescape else False,
                       trim_blocks=True, lstrip_blocks=True)


def make_reports(run_dir: Path, scenario: Scenario | None = None, summary: dict[str, Any] | None = None) -> Reports:
    """Judge the recording (unless given a fresh summary) and write report.html and postmortem.md."""
    started = time.perf_counter()
    loaded, events = load_run(run_dir)
    scenario = scenario or loaded
    summary = summary or judge(run_dir, scenario)
    context = {
        "summary": summary,
        "scenario": scenario,
        "first_errors": first_db_errors(events),
        "runbook_outputs": [e for e in events if e.get("kind") == "runbook.finished"],
        "postmortem": postmortem_context(summary, scenario),
        "proofs": measure_proofs(run_dir, summary, scenario),
    }
    html = _environment(autoescape=True).get_template("report.html.j2").render(
        chart_svg=timeline_svg(events, summary), **context)
    html_path = run_dir / "report.html"
    html_path.write_text(html)
    markdown_path = run_dir / "postmortem.md"
    markdown_path.write_text(_environment(autoescape=False).get_template("postmortem.md.j2").render(**context))
    return Reports(html=html_path, postmortem=markdown_path, render_s=time.perf_counter() - started)


def first_db_errors(events: list[Event]) -> list[Event]:
    """The first database error of each distinct (replica, class), in order: what an engineer reads first."""
    seen: set[tuple[str, str]] = set()
    first: list[Event] = []
    for event in sorted((e for e in events if e.get("kind") == "app.db_error"), key=lambda e: e["t"]):
        key = (str(event.get("replica")), str(event.get("error_class")))
        if key not in seen:
            seen.add(key)
            first.append(event)
    return first[:FIRST_ERRORS_SHOWN]
