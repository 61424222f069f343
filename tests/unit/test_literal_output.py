"""The listings show a scenario's or a recording's words as written: square brackets in them (`[sev1]`,
`[/api/orders]`) are neither read as Rich styles nor stop the command. And they read at 80 columns, the width Rich
takes when the output is a pipe (CI): identifiers whole, text wrapped."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from lab.cli import runs_table, scenarios_table
from lab.library import entries
from lab.report.runs import RunRow
from lab.settings import PROJECT_ROOT

SEED_PATH = PROJECT_ROOT / "scenarios" / "db-network-misconfig.yaml"
BUILTIN = PROJECT_ROOT / "scenarios"
TEXT = "Requests to [/api/orders] failing"
SEV = "[sev1] database unreachable"


def printed(renderable: Any, width: int = 200) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def write_scenario(directory: Path, name: str, title: str) -> None:
    document = yaml.safe_load(SEED_PATH.read_text())
    document.update(name=name, title=title)
    (directory / f"{name}.yaml").write_text(yaml.safe_dump(document))


def test_lab_scenarios_prints_bracketed_titles_as_written(tmp_path: Path) -> None:
    """A title with a closing-tag look-alike no longer stops `lab scenarios` with a MarkupError, and `[sev1]` is
    not swallowed as a style."""
    write_scenario(tmp_path, "orders", TEXT)
    write_scenario(tmp_path, "sev", SEV)
    listed = subprocess.run([sys.executable, "-m", "lab.cli", "scenarios"], capture_output=True, text=True, timeout=60,
                            check=False, env={**os.environ, "COLUMNS": "200", "LAB_SCENARIOS_DIR": str(tmp_path)})
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


def test_lab_scenarios_reads_at_80_columns() -> None:
    """Each name whole on the line with its difficulty and durations, each title there to read (it wraps), and
    nothing cut off with an ellipsis or beyond the 80 columns."""
    library = entries((BUILTIN,))
    shown = printed(scenarios_table(library), width=80)
    lines = shown.splitlines()
    assert "…" not in shown and max(len(line.rstrip()) for line in lines) <= 80
    words = " ".join(shown.split())
    for entry in library:
        assert entry.scenario is not None
        line = next(line for line in lines if line.startswith(f"{entry.name} "))
        assert entry.scenario.difficulty in line and f"{entry.scenario.duration_s:.0f} s" in line
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
