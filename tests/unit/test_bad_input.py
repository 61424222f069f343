"""Bad input from a user: one clear line on stderr, a non-zero exit, no traceback, nothing started."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.errors import InvalidInput, ScenarioError
from lab.scenario import MAX_RATE, parse
from lab.settings import PROJECT_ROOT

SEED = PROJECT_ROOT / "scenarios" / "db-network-misconfig.yaml"
NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def run_lab(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **NO_DOCKER, **(env_extra or {})}  # any attempt to reach Docker would fail loudly (exit 3)
    return subprocess.run([sys.executable, "-m", "lab.cli", *args], capture_output=True, text=True, env=env,
                          timeout=60, check=False)


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
    assert_one_line(run_lab(command, str(tmp_path / "nope.yaml")), 2, "does not exist")


def test_unknown_scenario_name() -> None:
    """An unknown name lists the scenarios that exist."""
    assert_one_line(run_lab("run", "no-such-incident"), 2, "known: db-network-misconfig")


def test_malformed_yaml(tmp_path: Path) -> None:
    """YAML syntax errors name the line."""
    assert_one_line(run_lab("run", write(tmp_path, "title: [unclosed\n")), 2, "not valid YAML at line")


def test_every_problem_in_one_line(tmp_path: Path) -> None:
    """Several mistakes are listed together, each with its field path."""
    path = seed_with(tmp_path, traffic={"rate": 0}, time={"seconds_per_incident_minute": 0})
    result = run_lab("validate", path)
    assert_one_line(result, 2, "traffic.rate: must be greater than 0")
    assert "time.seconds_per_incident_minute: must be greater than 0" in result.stderr


def test_zero_speed() -> None:
    """--speed 0 cannot compress time."""
    assert_one_line(run_lab("run", "db-network-misconfig", "--speed", "0"), 2, "--speed must be greater than 0")


def test_absurd_rate() -> None:
    """--rate beyond the highest rate measured to pass is refused before anything starts, naming that figure."""
    assert_one_line(run_lab("run", "db-network-misconfig", "--rate", "100000"), 2,
                    f"--rate 100000 is above {MAX_RATE:g} requests per second, the highest rate measured")


def test_rate_not_positive() -> None:
    """--rate 0 sends nothing: refused before anything starts."""
    assert_one_line(run_lab("run", "db-network-misconfig", "--rate", "0"), 2, "--rate must be more than 0")


def test_binary_file_as_scenario(tmp_path: Path) -> None:
    """A file that is not text is one line, not a UnicodeDecodeError."""
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00\x81")
    result = run_lab("validate", str(path))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_no_docker_daemon_for_run() -> None:
    """A valid scenario with no daemon: exit 3, and no run directory is created."""
    result = run_lab("run", "db-network-misconfig", "--out", "/tmp/outage-lab-never-created")
    assert_one_line(result, 3, "cannot reach the Docker daemon")
    assert not Path("/tmp/outage-lab-never-created").exists()


def test_unwritable_out_is_reported_before_starting(tmp_path: Path) -> None:
    """--out under a regular file cannot be a directory; says so in one line (the daemon check comes first)."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_lab("run", "db-network-misconfig", "--out", str(blocker / "run"), env_extra={"DOCKER_HOST": ""})
    assert result.returncode in (2, 3) and len(result.stderr.strip().splitlines()) == 1


def test_validate_good_scenario_says_ok() -> None:
    """The seed scenario validates: steps, faults and duration are printed."""
    result = run_lab("validate", "db-network-misconfig")
    assert result.returncode == 0 and result.stdout.startswith("ok: db-network-misconfig: 7 steps, 1 fault(s)")


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize(("section", "key"), [("timeline", "at"), ("traffic", "rate"), ("time", "tail_s")])
def test_non_finite_numbers_are_field_errors(value: float, section: str, key: str) -> None:
    """NaN and infinity are named as field errors, not turned into an OverflowError deep inside."""
    document = yaml.safe_load(SEED.read_text())
    target = document[section][1] if section == "timeline" else document[section]
    target[key] = value
    with pytest.raises(ScenarioError, match="must be a finite number"):
        parse(yaml.safe_dump(document), source="x.yaml")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=yaml_values)
def test_fuzz_random_documents_never_escape_as_tracebacks(document: object) -> None:
    """Any YAML value at all: the loader returns a scenario or raises ScenarioError, nothing else."""
    with contextlib.suppress(ScenarioError):
        parse(yaml.safe_dump(document), source="fuzz.yaml")


SEED_DOCUMENT = yaml.safe_load(SEED.read_text())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(section=st.sampled_from(sorted(SEED_DOCUMENT)), value=yaml_values,
       index=st.integers(0, 6), key=st.sampled_from(["at", "action", "fault", "service", "command", "clock", "id",
                                                     "target", "rate", "milestone"]))
def test_fuzz_mutated_seed_never_escapes_as_a_traceback(section: str, value: object, index: int, key: str) -> None:
    """The seed scenario with one field replaced by anything: a scenario or a ScenarioError, never a crash."""
    document = yaml.safe_load(yaml.safe_dump(SEED_DOCUMENT))
    target = document[section]
    if isinstance(target, list) and target and isinstance(target[index % len(target)], dict):
        target[index % len(target)][key] = value
    elif isinstance(target, dict):
        target[key] = value
    else:
        document[section] = value
    with contextlib.suppress(ScenarioError, InvalidInput):
        parse(yaml.safe_dump(document), source="fuzz.yaml")
