"""The database families' `sql` in bash, with a stand-in `psql` on PATH (the helper's own bash functions, no
database): a try that hangs or cannot connect is made again within its bound; an SQL error is not."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lab.faults.postgres import PSQL

FAKE_PSQL = """#!/bin/bash
# One behaviour per call, from the file BEHAVIOURS (one line each); every call's stdin appended to CALLS.
n=$(( $(wc -l < "$CALLS" 2>/dev/null || echo 0) ))
cat >> "$CALLS"
behaviour=$(sed -n "$((n + 1))p" "$BEHAVIOURS")
case $behaviour in
  hang) exec sleep 600 ;;
  refused) echo "psql: error: connection to server failed: Connection refused" >&2; exit 2 ;;
  sql-error) echo "ERROR:  role \\"nobody\\" does not exist" >&2; exit 3 ;;
  *) echo "$behaviour" ;;
esac
"""


def sql(tmp_path: Path, behaviours: list[str]) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """`sql <<<'select 1;'` in bash with the stand-in psql; its result and the statements each call received."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "psql").write_text(FAKE_PSQL)
    (bin_dir / "psql").chmod(0o755)
    (tmp_path / "behaviours").write_text("\n".join(behaviours) + "\n")
    calls = tmp_path / "calls"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "CALLS": str(calls), "BEHAVIOURS": str(tmp_path / "behaviours"),
           "TMPDIR": str(tmp_path)}
    result = subprocess.run(["bash", "-c", PSQL + "\nsql <<<'select 1;'"], capture_output=True, text=True,
                            env=env, timeout=60, check=False)
    return result, calls.read_text().splitlines() if calls.exists() else []


@pytest.mark.parametrize("first", ["hang", "refused"])
def test_a_try_that_hangs_or_cannot_connect_is_made_again(tmp_path: Path, first: str) -> None:
    """The second try answers: its answer is sql's, with the statements given again."""
    result, calls = sql(tmp_path, [first, "t"])
    assert (result.returncode, result.stdout) == (0, "t\n"), result.stderr
    assert calls == ["select 1;", "select 1;"]


def test_a_database_that_never_answers_ends_in_a_failure_not_a_wait(tmp_path: Path) -> None:
    """Three tries, each out of time: sql fails (124, timeout's code), its last error said."""
    result, calls = sql(tmp_path, ["hang", "hang", "hang"])
    assert result.returncode == 124 and len(calls) == 3


def test_an_sql_error_is_not_tried_again(tmp_path: Path) -> None:
    """A statement the database refused is an answer: said once, with psql's message."""
    result, calls = sql(tmp_path, ["sql-error", "t"])
    assert result.returncode == 3 and len(calls) == 1
    assert 'role "nobody" does not exist' in result.stderr
