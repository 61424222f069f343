"""report.html and postmortem.md for a run directory."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from lab.errors import LabError
from lab.judge.amplification import describe as describe_retries
from lab.judge.verdict import Judgement, judge_run
from lab.record.events import Event
from lab.report import chart
from lab.report.narrative import measure_proofs, postmortem_context

if TYPE_CHECKING:
    from jinja2 import Environment, Template

FIRST_ERRORS_SHOWN = 8
TEMPLATES = {"report.html.j2": True, "postmortem.md.j2": False}
"""Each template, and whether its output is HTML (autoescaped)."""


@dataclass(frozen=True)
class Reports:
    html: Path
    postmortem: Path
    render_s: float


@cache
def _environment(autoescape: bool) -> Environment:
    """One per kind of output, for the life of the process: it keeps its templates compiled."""
    # Imported here (0.1 s, and as much again to compile the templates): a run does both while its stack starts.
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(loader=PackageLoader("lab.report", "templates"), undefined=StrictUndefined,
                       autoescape=select_autoescape(["html"]) if autoescape else False,
                       trim_blocks=True, lstrip_blocks=True)


def warm_up() -> None:
    """What drawing the first reports costs, done ahead (matplotlib and its fonts, jinja2, the templates compiled:
    about 1.2 s), for a caller with time to spare. No report may be drawn until it has returned: matplotlib is not
    to be used from two threads at once."""
    chart.warm_up()
    for name in TEMPLATES:
        _template(name)


def _template(name: str) -> Template:
    return _environment(TEMPLATES[name]).get_template(name)


def make_reports(judgement: Judgement) -> Reports:
    """report.html and postmortem.md of a judged recording, written beside it."""
    started = time.perf_counter()
    run_dir, scenario, events = judgement.recording.run_dir, judgement.recording.scenario, judgement.recording.events
    summary = judgement.summary
    context = {
        "summary": summary,
        "scenario": scenario,
        "first_errors": first_db_errors(events),
        "runbook_outputs": [e for e in events if e.get("kind") == "runbook.finished"],
        "postmortem": postmortem_context(summary, scenario),
        "proofs": measure_proofs(run_dir, summary, scenario),
        "retries": describe_retries(summary.get("amplification")),
    }
    html = _template("report.html.j2").render(chart_svg=chart.timeline_svg(events, summary), **context)
    html_path = _written(run_dir / "report.html", html)
    markdown_path = _written(run_dir / "postmortem.md", _template("postmortem.md.j2").render(**context))
    return Reports(html=html_path, postmortem=markdown_path, render_s=time.perf_counter() - started)


def report_run(run_dir: Path) -> Reports:
    """`lab report RUN_DIR`: the recording judged again by the scenario and variant it played, its summary.json and
    junit.xml rewritten where the run directory can be written (they are a cache: a read-only CI artifact is
    reported all the same), and its reports written."""
    judgement = judge_run(run_dir)
    with contextlib.suppress(OSError):
        judgement.write()
    return make_reports(judgement)


def _written(path: Path, text: str) -> Path:
    """A report is written beside its recording: one that cannot be (a CI recording downloaded read-only) is said
    in one line naming where."""
    try:
        path.write_text(text)
    except OSError as exc:
        raise LabError(f"cannot write {path}: {exc.strerror or exc}") from exc  # the file system's: exit 3
    return path


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
