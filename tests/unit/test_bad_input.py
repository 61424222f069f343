"""Bad input from a user: one clear line on stderr, a non-zero exit, no traceback, nothing started."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from lab.errors import ScenarioError
from lab.scenario.reader import parse
from lab.scenario.traffic import MAX_RATE
from lab.settings import BUILTIN_SCENARIOS, PROJECT_ROOT
from tests.cli import lab_cli

SEED = PROJECT_ROOT / "scenarios" / "db-network-misconfig.yaml"
NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}



def assert_one_line(result: subprocess.CompletedProcess[str], exit_code: int, contains: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == exit_code, result.stderr
    assert len(lines) == 1 and lines[0].startswith("lab: error: ") and contains in lines[0], lines
    assert "Traceback" not in result.stderr


def write(tmp_path: Path, text: str, name: str = "bad.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def seed_with(tmp_path: Path, **top_level: object) -> str:
    document = yaml.safe_load(SEED.read_text())
    document.update(top_level)
    return write(tmp_path, yaml.safe_dump(document))


@pytest.mark.parametrize("command", ["run", "validate"])
def test_missing_scenario_file(tmp_path: Path, command: str) -> None:
    """A path that does not exist is invalid input (exit 2), before Docker is asked anything."""
    assert_one_line(lab_cli(command, str(tmp_path / "nope.yaml")), 2, "does not exist")


@pytest.mark.parametrize(("script", "contains"), [
    ("runbooks/nope.sh", "timeline[5].script: {}/runbooks/nope.sh does not exist"),
    ("runbooks", "timeline[5].script: {}/runbooks is a directory, not a script"),
    ("runbooks/fix.sh", "timeline[5].script: {}/runbooks/fix.sh is not executable (chmod +x it)"),
    (" ", "timeline[5].script: must name a script, got ' '"),
])
def test_validate_refuses_a_runbook_script_the_run_would_refuse(tmp_path: Path, script: str, contains: str) -> None:
    """`lab validate` checks the runbook's scripts as `lab run` does before it starts (missing, a directory, blank,
    not executable): one line naming the scenario file and the step, exit 2; made executable, it validates."""
    (tmp_path / "runbooks").mkdir()
    shutil.copytree(SEED.parent / "rules", tmp_path / "rules")  # the rule file of its Prometheus variant
    fix = tmp_path / "runbooks" / "fix.sh"
    fix.write_text("#!/bin/sh\n")
    document = yaml.safe_load(SEED.read_text())
    document["timeline"][5]["script"] = script
    path = write(tmp_path, yaml.safe_dump(document))
    assert_one_line(lab_cli("validate", path), 2, f"{path}: {contains.format(tmp_path)}")
    document["timeline"][5]["script"] = "runbooks/fix.sh"
    fix.chmod(0o755)
    assert lab_cli("validate", write(tmp_path, yaml.safe_dump(document))).returncode == 0


def test_unknown_scenario_name() -> None:
    """An unknown name lists the scenarios that exist, every one of the library, in order."""
    known = ", ".join(sorted(path.stem for path in BUILTIN_SCENARIOS.glob("*.yaml")))
    assert_one_line(lab_cli("run", "no-such-incident"), 2, f"(known: {known})")


def test_malformed_yaml(tmp_path: Path) -> None:
    """YAML syntax errors name the line."""
    assert_one_line(lab_cli("run", write(tmp_path, "title: [unclosed\n")), 2, "not valid YAML at line")


def test_every_problem_in_one_line(tmp_path: Path) -> None:
    """Several mistakes are listed together, each with its field path."""
    path = seed_with(tmp_path, traffic={"rate": 0}, time={"seconds_per_incident_minute": 0})
    result = lab_cli("validate", path)
    assert_one_line(result, 2, "traffic.rate: must be greater than 0")
    assert "time.seconds_per_incident_minute: must be greater than 0" in result.stderr


def test_zero_speed() -> None:
    """--speed 0 cannot compress time."""
    assert_one_line(lab_cli("run", "db-network-misconfig", "--speed", "0"), 2, "--speed must be greater than 0")


@pytest.mark.parametrize(("args", "contains"), [
    (("run", "db-network-misconfig", "--rate", "abc"), "Invalid value for '--rate': 'abc' is not a valid float (see "
                                                       "`lab run --help`)"),
    (("restart", "--wait-s", "-1", "app-2"), "Invalid value for '--wait-s': -1.0 is not in the range x>=0 (see `lab "
                                             "restart --help`)"),
    (("run",), "Missing argument 'SCENARIO' (see `lab run --help`)"),
    (("run", "db-network-misconfig", "--speed"), "Option '--speed' requires an argument (see `lab run --help`)"),
    (("run", "db-network-misconfig", "--no-such-option"), "No such option '--no-such-option' (see `lab run --help`)"),
    (("images", "prune", "--no-such-option"), "No such option '--no-such-option' (see `lab images prune --help`)"),
    (("no-such-command",), "No such command 'no-such-command' (see `lab --help`)"),
])
def test_click_usage_errors_are_one_line_naming_the_help(args: tuple[str, ...], contains: str) -> None:
    """A mistyped command line (click's own checks) ends like every other bad input: one line naming the command
    whose --help tells more, exit 2."""
    assert_one_line(lab_cli(*args), 2, contains)


def test_bare_lab_still_shows_its_help() -> None:
    """`lab` alone answers with the list of commands, not an error line."""
    shown = lab_cli()
    assert "Commands:" in shown.stdout + shown.stderr and "lab: error" not in shown.stderr


def test_absurd_rate() -> None:
    """--rate beyond the highest rate measured to pass is refused before anything starts, naming that figure."""
    assert_one_line(lab_cli("run", "db-network-misconfig", "--rate", "100000"), 2,
                    f"--rate 100000 is above {MAX_RATE:g} requests per second, the highest rate measured")


def test_rate_not_positive() -> None:
    """--rate 0 sends nothing: refused before anything starts."""
    assert_one_line(lab_cli("run", "db-network-misconfig", "--rate", "0"), 2, "--rate must be more than 0")


def test_binary_file_as_scenario(tmp_path: Path) -> None:
    """A file that is not text is one line, not a UnicodeDecodeError."""
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00\x81")
    result = lab_cli("validate", str(path))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_no_docker_daemon_for_run(tmp_path: Path) -> None:
    """A valid scenario with no daemon: exit 3, and no run directory is created."""
    result = lab_cli("run", "db-network-misconfig", "--out", str(tmp_path / "never-created"))
    assert_one_line(result, 3, "cannot reach the Docker daemon")
    assert not (tmp_path / "never-created").exists()


@pytest.mark.parametrize("command", ["run", "drill"])
def test_unwritable_out_is_reported_before_starting(tmp_path: Path, command: str) -> None:
    """--out under a regular file cannot be a directory: invalid input (exit 2), said before Docker is asked."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = lab_cli(command, "db-network-misconfig", "--out", str(blocker / "run"))
    assert_one_line(result, 2, f"cannot write the run directory {blocker / 'run'}: {blocker} is not a directory")


def test_validate_good_scenario_says_ok() -> None:
    """The seed scenario validates: steps, faults and duration are printed."""
    result = lab_cli("validate", "db-network-misconfig")
    assert result.returncode == 0 and result.stdout.startswith("ok: db-network-misconfig: 7 steps, 1 fault(s)")


@pytest.mark.parametrize("command", ["validate", "run"])
def test_deeply_nested_yaml_is_one_line_naming_the_file(tmp_path: Path, command: str) -> None:
    """5,000 levels of nested lists end as one line naming the file (exit 2), not a RecursionError traceback."""
    path = write(tmp_path, "x: " + "[" * 5000 + "]" * 5000 + "\n", "deep.yaml")
    assert_one_line(lab_cli(command, path), 2, f"{path}: nested too deeply to be a scenario")


@pytest.mark.parametrize("speed", ["inf", "Infinity", "-inf", "nan"])
def test_non_finite_speed_is_refused_before_anything_starts(speed: str) -> None:
    """--speed inf or nan is invalid input (exit 2) before Docker is asked anything."""
    assert_one_line(lab_cli("run", "db-network-misconfig", "--speed", speed), 2, "--speed must be greater than 0")


@pytest.mark.parametrize(("speed", "problem"), [("nan", "greater than 0 (and finite), got nan"),
                                               ("inf", "greater than 0 (and finite), got inf"),
                                               ("0", "greater than 0 (and finite), got 0.0"),
                                               ("1e-300", "at least 0.01, got 1e-300")])
def test_a_replay_speed_that_cannot_pace_it_is_refused(speed: str, problem: str) -> None:
    """`lab replay` takes the speeds `lab run` takes: nan and inf no longer play it all at once with exit 0, nor
    does a speed near 0 end in an OverflowError traceback."""
    recording = PROJECT_ROOT / "tests" / "fixtures" / "recordings" / "20261126T220157Z-db-network-misconfig"
    assert_one_line(lab_cli("replay", str(recording), "--speed", speed), 2, f"--speed must be {problem}")


@pytest.mark.parametrize("speed", ["1e308", "7.8", "1000"])
def test_speed_that_blurs_the_timeline_is_refused_naming_the_largest_allowed(speed: str) -> None:
    """Above the seed's largest speed (7.7: its database restart, 70 incident minutes before the fix, needs 9 s to
    be judged), `lab run` refuses before anything starts, naming that speed."""
    result = lab_cli("run", "db-network-misconfig", "--speed", speed)
    assert_one_line(result, 2, "the largest speed it allows is 7.7")


@pytest.mark.parametrize("speed", ["7.7", "max"])
def test_the_largest_allowed_speed_itself_is_accepted(speed: str) -> None:
    """--speed 7.7, or `max`, passes the speed check: the next thing the run does is ask the Docker daemon (absent:
    exit 3)."""
    assert_one_line(lab_cli("run", "db-network-misconfig", "--speed", speed), 3, "cannot reach the Docker daemon")


def test_a_speed_that_is_neither_a_number_nor_max_is_refused() -> None:
    assert_one_line(lab_cli("run", "db-network-misconfig", "--speed", "fast"), 2,
                    "Invalid value for '--speed': 'fast' is neither a number nor max")


def test_the_largest_speed_follows_the_scenarios_own_windows(tmp_path: Path) -> None:
    """A 30 s alert window needs a 31 s fault window: the 90-minute window allows speed 90/31, shown as 2.9."""
    path = seed_with(tmp_path, alerts=[{"name": "slow-alert", "error_rate_above": 0.05, "window_s": 30,
                                        "min_requests": 10}])
    assert_one_line(lab_cli("run", path, "--speed", "3"), 2, "the largest speed it allows is 2.9")


def test_validate_a_directory_checks_every_scenario_in_it() -> None:
    """`lab validate scenarios`, as typed from the project root, validates each *.yaml there."""
    result = lab_cli("validate", "scenarios", cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stderr
    names = [path.stem for path in sorted((PROJECT_ROOT / "scenarios").glob("*.yaml"))]
    assert names and [line.split(":")[:2] for line in result.stdout.splitlines()] == [["ok", f" {n}"] for n in names]


def test_validate_a_directory_names_each_bad_file_and_exits_2(tmp_path: Path) -> None:
    """In a directory, good files say ok and each bad one gets its own error line; any bad file means exit 2."""
    write(tmp_path, SEED.read_text(), "good.yaml")
    shutil.copytree(SEED.parent / "runbooks", tmp_path / "runbooks")  # its runbook script, validated with it
    shutil.copytree(SEED.parent / "rules", tmp_path / "rules")
    write(tmp_path, "title: [unclosed\n", "broken.yaml")
    write(tmp_path, "x: " + "[" * 5000 + "]" * 5000 + "\n", "deep.yaml")
    result = lab_cli("validate", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stdout.splitlines() == ["ok: db-network-misconfig: 7 steps, 1 fault(s), 180 s at speed 1, "
                                          "largest speed 7.7"]
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2 and all(line.startswith("lab: error: ") for line in errors)
    assert f"{tmp_path / 'broken.yaml'}: not valid YAML" in errors[0]
    assert f"{tmp_path / 'deep.yaml'}: nested too deeply" in errors[1]


def test_validate_an_empty_directory_says_there_is_nothing_to_check(tmp_path: Path) -> None:
    """A directory without *.yaml files is invalid input, not a silent success."""
    assert_one_line(lab_cli("validate", str(tmp_path)), 2, f"no scenario file (*.yaml) in {tmp_path}")


def test_run_of_a_directory_points_to_validate(tmp_path: Path) -> None:
    """`lab run` of a directory says it is one and how to check each file in it."""
    assert_one_line(lab_cli("run", str(tmp_path)), 2, f"`lab validate {tmp_path}` checks each one")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize(("section", "key"), [("timeline", "at"), ("traffic", "rate"), ("time", "tail_s")])
def test_non_finite_numbers_are_field_errors(value: float, section: str, key: str) -> None:
    """NaN and infinity are named as field errors, not turned into an OverflowError deep inside."""
    document = yaml.safe_load(SEED.read_text())
    target = document[section][1] if section == "timeline" else document[section]
    target[key] = value
    with pytest.raises(ScenarioError, match="must be a finite number"):
        parse(yaml.safe_dump(document), source="x.yaml")


def test_a_drill_under_a_temporary_directory_too_deep_for_its_socket_stops_before_docker(tmp_path: Path) -> None:
    """`lab drill` with a TMPDIR too deep for its control socket: one line naming TMPDIR, exit 3, before Docker
    is asked anything (else the daemon's absence would be the error)."""
    deep = tmp_path / ("d" * 60)
    deep.mkdir()
    result = lab_cli("drill", "db-network-misconfig", "--out", str(tmp_path / "out"), env={"TMPDIR": str(deep)})
    assert_one_line(result, 3, "set TMPDIR to a shorter directory")


@pytest.mark.parametrize(("option", "value"), [("--max-duration", "inf"), ("--max-duration", "nan"),
                                               ("--inject-after", "inf"), ("--max-duration", "90000")])
def test_a_drill_time_beyond_a_day_or_not_finite_is_refused_before_anything_starts(option: str, value: str) -> None:
    """A click range lets inf and nan through: the drill would record an end it never reaches."""
    assert_one_line(lab_cli("drill", "db-network-misconfig", option, value), 2,
                    f"{option} must be at most a day (86400 s), got {float(value)}")
