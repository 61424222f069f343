"""What the terminal shows of a scenario's, a stack's or a recording's words is shown as written: square brackets in
them (`[sev1]`, `[/api/orders]`, `[::1]`) are neither read as Rich styles nor stop the command, and emoji codes
(`:x:`, `:thumbs_up:`) are not turned into emoji. And the listings read at 80 columns, the width Rich takes when the
output is a pipe (CI): identifiers whole, text wrapped. Each on a console made as the lab makes its own."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cli.recordings import runs_table
from lab.cli.scenarios import scenarios_table
from lab.clock import FakeClock
from lab.drill.dashboard import Dashboard
from lab.judge.analysis import analyse
from lab.judge.checks import evaluate
from lab.judge.summary import summary_document
from lab.judge.verdict import verdict_of
from lab.play.console import ConsoleProgress, summary_table, terminal
from lab.record.events import Event
from lab.report.replay import replay
from lab.report.runs import RunRow
from lab.scenario.library import entries
from lab.scenario.reader import load
from lab.settings import PROJECT_ROOT
from tests.cli import lab_cli

from .recordings import PASS, RECORDINGS, WRONG_FIX
from .streams import event, recording, step

SEED_PATH = PROJECT_ROOT / "scenarios" / "db-network-misconfig.yaml"
SEED = load(SEED_PATH)
BUILTIN = PROJECT_ROOT / "scenarios"
TEXT = "Requests to [/api/orders] failing"
SEV = "[sev1] database unreachable"
DB_ERROR = "could not open [/var/run/postgresql/.s.PGSQL.5432]"
EMOJI_CODES = "error: code :x: failed :thumbs_up:"
"""Rich's emoji codes, which escaping leaves to be turned into emoji."""


def printed(renderable: Any, width: int = 200) -> str:
    output = io.StringIO()
    terminal(file=output, width=width).print(renderable)
    return output.getvalue()


def write_scenario(directory: Path, name: str, title: str) -> None:
    document = yaml.safe_load(SEED_PATH.read_text())
    document.update(name=name, title=title)
    (directory / f"{name}.yaml").write_text(yaml.safe_dump(document))


def test_lab_scenarios_prints_bracketed_titles_as_written(tmp_path: Path) -> None:
    """A title with a closing-tag look-alike no longer stops `lab scenarios` with a MarkupError, and `[sev1]` is
    not swallowed as a style."""
    write_scenario(tmp_path, "orders", TEXT)
    write_scenario(tmp_path, "sev", SEV)
    listed = lab_cli("scenarios", env={"COLUMNS": "200", "LAB_SCENARIOS_DIR": str(tmp_path)})
    assert listed.returncode == 0 and listed.stderr == ""
    assert TEXT in listed.stdout and SEV in listed.stdout


def test_an_invalid_scenario_under_a_bracketed_folder_is_listed_with_its_path(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The path and the problem of a file that is not a scenario are data too."""
    monkeypatch.chdir(tmp_path)
    folder = Path("[") / "ours]"  # [/ours]/broken.yaml
    folder.mkdir(parents=True)
    (folder / "broken.yaml").write_text("title: [\n")
    shown = printed(scenarios_table(entries((folder,))))
    assert str(folder / "broken.yaml") in shown and "invalid: " in shown


def test_lab_runs_prints_a_bracketed_scenario_name_as_written() -> None:
    row = RunRow(run_dir=Path("runs/20261126T220157Z-x"), scenario="[/x]", verdict="fail", intervals={},
                 fault_error_rate=None)
    assert "[/x]" in printed(runs_table([row]))


def bracketed_recording() -> list[Event]:
    events = recording()
    events += [
        step(6, 46.0, "note", "15:31", text="GET [/orders] answers again", detail="[sev1] closed"),
        event("app.db_error", 20.0, replica="app-2", error_class="psycopg.OperationalError", message=DB_ERROR),
        event("alert.fired", 19.0, alert="[/x] errors", error_rate=0.3, window_s=5),
    ]
    return sorted(events, key=lambda e: e["t"])


def test_replay_prints_step_texts_app_errors_and_alerts_as_written() -> None:
    """`lab replay` of a recording whose step text, app error and alert name hold brackets shows them verbatim."""
    output = io.StringIO()
    replay(bracketed_recording(), 1000, terminal(file=output, width=200), FakeClock())
    shown = output.getvalue()
    assert "GET [/orders] answers again" in shown and "(ok: [sev1] closed)" in shown
    assert f"psycopg.OperationalError: {DB_ERROR}" in shown and "ALERT [/x] errors" in shown


def test_the_live_console_prints_steps_alerts_and_engine_news_as_written() -> None:
    """`lab run`'s console: step lines, alert lines, the engine's news and the status line keep their brackets."""
    output = io.StringIO()
    console = terminal(file=output, width=200)
    progress = ConsoleProgress(console, FakeClock())
    progress(step(1, 2.0, "note", "14:05", text=TEXT, detail="replied [::1]:5432"))
    progress(event("alert.fired", 3.0, alert="[sev1] errors", error_rate=0.3, window_s=5))
    progress(event("engine.lost", 4.0, detail="[Errno 111] refused at [/run/docker.sock]"))
    progress(event("step.due", 5.0, index=2, action="[/x]", planned_t=9.0, clock="[/c]"))
    console.print(progress.status_line())
    shown = output.getvalue()
    assert TEXT in shown and "(ok: replied [::1]:5432;" in shown
    assert "ALERT   [sev1] errors" in shown and "went away ([Errno 111] refused at [/run/docker.sock])" in shown
    assert "next: [/x] [/c] in 9.0 s" in shown


def test_the_summary_table_prints_names_and_details_as_written() -> None:
    analysis = analyse(recording())
    results = evaluate(analysis, SEED.checks, 0.05)
    summary = summary_document("r1", SEED, 1.0, analysis, results, verdict_of(analysis, results))
    summary["scenario"] = "[/x]"
    summary["milestones"][0]["detail"] = TEXT
    summary["checks"][0].update(name="[sev1] check", detail=DB_ERROR)
    shown = printed(summary_table(summary))
    assert "[/x]: PASS" in shown and TEXT in shown and "[sev1] check" in shown and DB_ERROR in shown


def test_a_drill_shows_bracketed_hints_and_alerts_as_written() -> None:
    output = io.StringIO()
    dashboard = Dashboard(terminal(file=output, width=200), FakeClock())
    dashboard.show_hint("look at [/etc/hosts]")
    dashboard(event("alert.fired", 3.0, alert="[sev1] errors", error_rate=0.3, window_s=5))
    assert "look at [/etc/hosts]" in output.getvalue() and "ALERT [sev1] errors" in output.getvalue()


def test_lab_compare_prints_emoji_codes_in_a_run_directorys_name_as_written(tmp_path: Path) -> None:
    """The command's own console, as `lab compare` makes it: a run folder named `pass-:x:` heads its column so."""
    for name, copy in ((PASS, "pass-:x:"), (WRONG_FIX, "wrong-fix")):
        shutil.copytree(RECORDINGS / name, tmp_path / copy)
    compared = lab_cli("compare", str(tmp_path / "pass-:x:"), str(tmp_path / "wrong-fix"), env={"COLUMNS": "200"})
    assert compared.returncode == 0 and compared.stderr == "", compared.stderr
    assert "pass-:x:" in compared.stdout


def test_replay_the_live_console_and_a_drill_print_emoji_codes_as_written() -> None:
    """An app's error line, a step's text and detail, an alert's name and a hint keep their `:x:` wherever the lab
    prints them; none becomes an emoji."""
    events = recording()
    events += [step(6, 46.0, "note", "15:31", text=EMOJI_CODES, detail=EMOJI_CODES),
               event("app.db_error", 20.0, replica="app-2", error_class="psycopg.OperationalError",
                     message=EMOJI_CODES),
               event("alert.fired", 19.0, alert=EMOJI_CODES, error_rate=0.3, window_s=5)]
    output = io.StringIO()
    replay(sorted(events, key=lambda e: e["t"]), 1000, terminal(file=output, width=200), FakeClock())
    assert output.getvalue().count(EMOJI_CODES) == 4
    output = io.StringIO()
    progress = ConsoleProgress(terminal(file=output, width=200), FakeClock())
    progress(step(1, 2.0, "note", "14:05", text=EMOJI_CODES, detail=EMOJI_CODES))
    progress(event("alert.fired", 3.0, alert=EMOJI_CODES, error_rate=0.3, window_s=5))
    assert output.getvalue().count(EMOJI_CODES) == 3
    output = io.StringIO()
    Dashboard(terminal(file=output, width=200), FakeClock()).show_hint(EMOJI_CODES)
    assert EMOJI_CODES in output.getvalue()


def test_the_summary_table_and_the_runs_table_print_emoji_codes_as_written() -> None:
    analysis = analyse(recording())
    results = evaluate(analysis, SEED.checks, 0.05)
    summary = summary_document("r1", SEED, 1.0, analysis, results, verdict_of(analysis, results))
    summary["checks"][0].update(detail=EMOJI_CODES)
    assert EMOJI_CODES in printed(summary_table(summary))
    row = RunRow(run_dir=Path(f"runs/{EMOJI_CODES}"), scenario=EMOJI_CODES, verdict="pass", intervals={},
                 fault_error_rate=None)
    assert printed(runs_table([row])).count(EMOJI_CODES) == 2


def test_lab_scenarios_reads_at_80_columns() -> None:
    """Each name whole on the line with its difficulty and durations, its cause under the difficulty, each title
    there to read in its column (it wraps), and nothing cut off with an ellipsis or beyond the 80 columns."""
    library = entries((BUILTIN,))
    shown = printed(scenarios_table(library), width=80)
    lines = shown.splitlines()
    assert "…" not in shown and max(len(line.rstrip()) for line in lines) <= 80
    first_column = lines[0].index("difficulty")
    words = " ".join(" ".join(line[:first_column].split()) for line in lines)
    for entry in library:
        assert entry.scenario is not None
        index = next(index for index, line in enumerate(lines) if line.startswith(f"{entry.name} "))
        assert entry.scenario.difficulty in lines[index] and f"{entry.scenario.duration_s:.0f} s" in lines[index]
        assert lines[index + 1][first_column:].split()[0] == entry.scenario.cause
        assert entry.scenario.title in words
        assert ", ".join(entry.fault_kinds) in words


@pytest.mark.parametrize("verdict", ["pass", "unreliable"])
def test_lab_runs_reads_at_80_columns(verdict: str) -> None:
    """A run id as the lab names them is shown whole, on the line with its verdict (what `lab report` and
    `lab compare` take), with every interval; a longer one (named with --out) folds rather than lose its end."""
    names = ["20261126T220157Z-db-network-misconfig", "20261126T223501Z-drill-random"]
    rows = [RunRow(run_dir=Path("runs") / name, scenario="db-network-misconfig", verdict=verdict,
                   intervals={"detect": 3.9, "mitigate": 14.1, "recover": 4.7}, fault_error_rate=0.339)
            for name in names]
    rows.append(RunRow(run_dir=Path("runs") / ("x" * 70), scenario="y", verdict="partial", intervals={},
                       fault_error_rate=None))
    shown = printed(runs_table(rows), width=80)
    lines = shown.splitlines()
    assert "…" not in shown and max(len(line.rstrip()) for line in lines) <= 80
    for name in names:
        line = next(line for line in lines if line.startswith(f"{name} "))
        assert verdict in line and "33.9%" in line
    assert all(span in shown for span in ("detect 3.9 s", "mitigate 14.1 s", "recover 4.7 s"))
    assert shown.count("x") == 70
