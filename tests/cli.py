"""The real `lab` command in a subprocess, as a user's shell runs it: the tests' one way to run it. Unit tests run it
with a DOCKER_HOST nobody listens on (tests/unit/conftest.py), integration tests with the real engine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LAB = [sys.executable, "-m", "lab.cli"]


def lab_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """`lab ARGS...` to its end: exit code, standard output and error (text)."""
    return subprocess.run([*LAB, *args], capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd,
                          env={**os.environ, **(env or {})})


def start_lab(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`lab ARGS...` started, its output piped."""
    return subprocess.Popen([*LAB, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
