"""A runbook script is a file of the scenario that names it: it must resolve, symlinks included, inside the directory
of that scenario (or of the runbook file given with --runbook), or inside one the user allows with
--allow-scripts-in; anything else is refused before anything starts. A recording's scenario, whose scripts were made
absolute when it ran, is only read, never run: reading it checks nothing of them."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from lab.gameday.drills import DrillPlan
from lab.gameday.engines import DockerEngine
from lab.judge.recording import read_recording
from lab.pytest_plugin import LabRunError, OutageLab
from lab.scenario.reader import load
from tests.cli import LAB, lab_cli
from tests.unit.recordings import PASS, RECORDINGS
from tests.unit.test_bad_input import SEED, assert_one_line

RUNBOOK_STEP = 5
"""The seed's host script step (runbooks/db-network-misconfig.sh)."""


def scenario_with_script(directory: Path, script: str, args: list[str] | None = None) -> Path:
    """The seed scenario in `directory`, its runbooks beside it, its host step running `script` with `args`."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copytree(SEED.parent / "runbooks", directory / "runbooks", dirs_exist_ok=True)
    shutil.copytree(SEED.parent / "rules", directory / "rules", dirs_exist_ok=True)
    document = yaml.safe_load(SEED.read_text())
    document["timeline"][RUNBOOK_STEP]["script"] = script
    if args is not None:
        document["timeline"][RUNBOOK_STEP]["args"] = args
    path = directory / "scenario.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("script", ["/bin/sh", "../../../../../../../../bin/sh", "runbooks/shell.sh"],
                         ids=["absolute", "climbing out", "symlink out"])
@pytest.mark.parametrize("command", ["validate", "run", "drill"])
def test_a_script_outside_the_scenarios_directory_is_refused(tmp_path: Path, script: str, command: str) -> None:
    """A script given as `/bin/sh`, as `../../bin/sh` or as a symlink out of the scenario's directory is refused in
    one line naming the step and where the script really is, exit 2, before Docker is asked anything."""
    path = scenario_with_script(tmp_path / "incident", script, ["-c", "echo anything at all"])
    (tmp_path / "incident" / "runbooks" / "shell.sh").symlink_to("/bin/sh")
    result = lab_cli(command, str(path))
    assert_one_line(result, 2, f"timeline[{RUNBOOK_STEP}].script: ")
    assert (f"is outside {tmp_path / 'incident'}: a script must be in the directory of the file that names it, or "
            "in one given with --allow-scripts-in") in result.stderr


@pytest.mark.parametrize(("command", "exit_code"), [("validate", 0), ("run", 3), ("drill", 3)])
def test_a_directory_the_user_allows_may_hold_the_scripts(tmp_path: Path, command: str, exit_code: int) -> None:
    """A script outside the scenario's directory is accepted once the user names its directory with
    --allow-scripts-in (repeatable): validate says ok, run and drill go on to ask Docker (absent here: exit 3)."""
    shared = executable(tmp_path / "shared" / "fix.sh")
    path = scenario_with_script(tmp_path / "incident", str(shared))
    refused = lab_cli(command, str(path))
    assert_one_line(refused, 2, f"{shared} is outside {tmp_path / 'incident'}")
    (tmp_path / "elsewhere").mkdir()
    allowed = lab_cli(command, str(path), "--allow-scripts-in", str(tmp_path / "elsewhere"),
                      "--allow-scripts-in", str(shared.parent))
    assert allowed.returncode == exit_code and "outside" not in allowed.stderr, allowed.stderr


def test_the_allowed_directory_must_exist() -> None:
    """An --allow-scripts-in that is not a directory is refused in click's one line, exit 2."""
    assert_one_line(lab_cli("validate", "db-network-misconfig", "--allow-scripts-in", "/no/such/dir"), 2,
                    "Invalid value for '--allow-scripts-in': Directory '/no/such/dir' does not exist")


def test_a_game_day_checks_the_scripts_and_its_drills_get_the_allowed_directory(tmp_path: Path) -> None:
    """`lab gameday` refuses a script outside the scenario's directory before any engine is asked (not once per
    trainee later); with --allow-scripts-in it goes on (exit 3 here: no Docker), and each trainee's drill is
    started with the same directory allowed: that drill's own command accepts the script."""
    shared = executable(tmp_path / "shared" / "fix.sh")
    path = scenario_with_script(tmp_path / "incident", str(shared))
    assert_one_line(lab_cli("gameday", "--scenario", str(path)), 2, f"{shared} is outside {tmp_path / 'incident'}")
    allowed = lab_cli("gameday", "--scenario", str(path), "--allow-scripts-in", str(shared.parent))
    assert allowed.returncode == 3 and "outside" not in allowed.stderr, allowed.stderr
    plan = DrillPlan(1, "trainee-1", load(path), path, 1, DockerEngine("local"), tmp_path / "trainee-1",
                     script_dirs=(shared.parent,))
    drill = lab_cli(*plan.argv()[len(LAB):])
    assert_one_line(drill, 3, "cannot reach the Docker daemon")
    without = replace(plan, script_dirs=())
    assert_one_line(lab_cli(*without.argv()[len(LAB):]), 2, f"{shared} is outside")


def test_the_pytest_plugin_passes_the_allowed_directories_on(tmp_path: Path) -> None:
    """`outage_lab.run(..., allow_scripts_in=[DIR])` lets a script in DIR run: without it the run is refused for
    the script (exit 2), with it the run goes on to ask Docker (exit 3 here)."""
    shared = executable(tmp_path / "shared" / "fix.sh")
    path = scenario_with_script(tmp_path / "incident", str(shared))
    lab = OutageLab(tmp_path / "runs")
    with pytest.raises(LabRunError, match=r"exited 2: lab: error: .* is outside"):
        lab.run(path)
    with pytest.raises(LabRunError, match=r"exited 3: lab: error: cannot reach the Docker daemon"):
        lab.run(path, allow_scripts_in=[shared.parent])


def test_a_runbook_files_scripts_stay_in_its_own_directory(tmp_path: Path) -> None:
    """A runbook file's scripts must stay in that file's directory (not its scenario's): one out of it is refused,
    one beside it passes and the run goes on to ask Docker (exit 3)."""
    scenario = scenario_with_script(tmp_path / "incident", "runbooks/db-network-misconfig.sh")
    executable(tmp_path / "incident" / "runbooks" / "other.sh")
    executable(tmp_path / "team" / "fix.sh")
    runbook = tmp_path / "team" / "runbook.yaml"
    runbook.write_text("steps:\n  - {at: 90, action: runbook, script: ../incident/runbooks/other.sh}\n")
    result = lab_cli("run", str(scenario), "--runbook", str(runbook))
    assert_one_line(result, 2, f"(that is {tmp_path / 'incident' / 'runbooks' / 'other.sh'}) is outside "
                               f"{tmp_path / 'team'}")
    runbook.write_text("steps:\n  - {at: 90, action: runbook, script: fix.sh}\n")
    assert_one_line(lab_cli("run", str(scenario), "--runbook", str(runbook)), 3, "cannot reach the Docker daemon")


def test_a_recordings_absolute_scripts_are_read_without_being_checked(tmp_path: Path) -> None:
    """A recording's scenario.yaml, whose scripts are absolute paths anywhere, is read back to be judged without
    its scripts being checked, since they are never run again."""
    run_dir = tmp_path / PASS
    shutil.copytree(RECORDINGS / PASS, run_dir)
    document = yaml.safe_load((run_dir / "scenario.yaml").read_text())
    fix = document["timeline"][RUNBOOK_STEP]  # the revert that stood for the runbook: now the script it ran
    document["timeline"][RUNBOOK_STEP] = {"at": fix["at"], "clock": fix["clock"], "action": "runbook",
                                          "milestone": fix["milestone"], "script": "/bin/sh", "args": ["-c", "true"]}
    (run_dir / "scenario.yaml").write_text(yaml.safe_dump(document))
    assert read_recording(run_dir).scenario.timeline[RUNBOOK_STEP].command == ("/bin/sh", "-c", "true")
