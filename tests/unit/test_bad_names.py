"""Names a user gives that the system cannot take or that mean nothing: a file name over the system's limit, an empty
SCENARIO, a LAB_SCENARIOS_DIR that is not a directory. Each is one line and exit 2, never an OSError traceback nor a
silent default; and a terminal width of 0 still prints the listing."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.settings import PROJECT_ROOT
from tests.cli import lab_cli
from tests.unit.test_bad_input import assert_one_line

TOO_LONG = "a" * 300
"""Over the 255 bytes a file name may have on Linux and macOS file systems: ENAMETOOLONG."""
POSTMORTEM = PROJECT_ROOT / "scenarios" / "db-network-misconfig.postmortem.txt"


@pytest.mark.parametrize("args", [
    ("validate", f"{TOO_LONG}.yaml"),
    ("validate", TOO_LONG),
    ("run", TOO_LONG),
    ("drill", TOO_LONG),
    ("gameday", "--scenario", TOO_LONG),
    ("gameday", "--engines", "{tmp}/" + TOO_LONG),
    ("gameday", "--out", "{tmp}/" + TOO_LONG),
    ("run", "db-network-misconfig", "--out", "{tmp}/" + TOO_LONG),
    ("drill", "db-network-misconfig", "--out", "{tmp}/" + TOO_LONG),
    ("run", "db-network-misconfig", "--runbook", "{tmp}/" + TOO_LONG),
    ("new", "incident", "--from-postmortem", str(POSTMORTEM), "--out", "{tmp}/" + TOO_LONG + ".yaml"),
    ("new", "incident", "--from-postmortem", "{tmp}/" + TOO_LONG),
], ids=lambda args: " ".join(arg.replace(TOO_LONG, "<300 chars>") for arg in args))
def test_a_file_name_over_the_systems_limit_is_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    """Every file name a command takes, when over the system's limit, is one line saying so and exit 2, before
    Docker is asked anything."""
    assert_one_line(lab_cli(*(arg.replace("{tmp}", str(tmp_path)) for arg in args)), 2, "File name too long")


@pytest.mark.parametrize("command", ["validate", "run", "scenarios"])
def test_a_lab_scenarios_dir_named_beyond_the_limit_is_one_line(tmp_path: Path, command: str) -> None:
    """A LAB_SCENARIOS_DIR over the system's limit is one line naming the variable, exit 2."""
    result = lab_cli(command, *(["db-network-misconfig"] if command != "scenarios" else []),
                     env={"LAB_SCENARIOS_DIR": str(tmp_path / TOO_LONG)})
    assert_one_line(result, 2, f"LAB_SCENARIOS_DIR: cannot use {tmp_path / TOO_LONG}: File name too long")


@pytest.mark.parametrize(("kind", "problem"), [("file", "is not a directory"), ("missing", "does not exist")])
def test_a_lab_scenarios_dir_that_is_not_a_directory_is_refused(tmp_path: Path, kind: str, problem: str) -> None:
    """A LAB_SCENARIOS_DIR that is a file, or that does not exist, is refused in one line naming it, exit 2, rather
    than ignored."""
    path = tmp_path / "scenarios"
    if kind == "file":
        path.write_text("")
    assert_one_line(lab_cli("scenarios", env={"LAB_SCENARIOS_DIR": str(path)}), 2,
                    f"LAB_SCENARIOS_DIR: {path} {problem}")


@pytest.mark.parametrize("command", ["validate", "run", "drill"])
@pytest.mark.parametrize("given", ["", "  "])
def test_an_empty_scenario_argument_is_refused(tmp_path: Path, command: str, given: str) -> None:
    """An empty (or blank) SCENARIO is refused in one line, exit 2, rather than read as the current directory."""
    assert_one_line(lab_cli(command, given, cwd=tmp_path), 2, f"SCENARIO is empty (got {given!r})")


@pytest.mark.parametrize("columns", ["0", "7"])
def test_a_terminal_width_too_small_for_any_table_still_lists_the_scenarios(columns: str) -> None:
    """A COLUMNS no table fits in (0, 7) is taken for a variable set wrong: `lab scenarios` lists the library at
    80 columns, Rich's width when it cannot tell."""
    listed = lab_cli("scenarios", env={"COLUMNS": columns, "LAB_SCENARIOS_DIR": ""})
    lines = listed.stdout.splitlines()
    assert listed.returncode == 0 and listed.stderr == ""
    assert "db-network-misconfig" in listed.stdout and max(len(line) for line in lines) == 80
