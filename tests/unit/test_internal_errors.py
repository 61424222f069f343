"""A failure nobody foresaw (a bug of the lab, not of its input) ends like every other one: one line on stderr, here
saying it is a bug, where its traceback was written and where to report it, and exit 70 (EX_SOFTWARE), never a
traceback on the screen nor exit 1, which says a check failed. The bug is planted in a real `lab` process by a
sitecustomize module on its PYTHONPATH, which Python imports before anything of the lab runs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from lab.errors import BUG_REPORTS, EXIT_INTERNAL_ERROR
from tests.cli import lab_cli

PLANTS = {
    "in a command": "import lab.settings\n"
                    "def planted(*args, **kwargs):\n"
                    "    raise RuntimeError('planted\\nsecond line of the message')\n"
                    "lab.settings.Settings.from_env = classmethod(planted)\n",
    "while click parses": "import lab.cli.base\n"
                          "def planted(*args, **kwargs):\n"
                          "    raise RuntimeError('planted')\n"
                          "lab.cli.base.LabCommand.parse_args = planted\n",
}


@pytest.mark.parametrize("where", sorted(PLANTS))
def test_an_unforeseen_exception_is_one_line_naming_its_traceback_file(tmp_path: Path, where: str) -> None:
    """An exception nobody foresaw, inside a command or while click reads its arguments, ends in exit 70 and one
    line naming the file under TMPDIR that holds its traceback, the command line and the lab's version."""
    plants = tmp_path / "plants"
    plants.mkdir()
    (plants / "sitecustomize.py").write_text(PLANTS[where])
    pythonpath = os.pathsep.join(part for part in (str(plants), os.environ.get("PYTHONPATH", "")) if part)
    result = lab_cli("validate", "db-network-misconfig", env={"PYTHONPATH": pythonpath, "TMPDIR": str(tmp_path)})
    lines = result.stderr.strip().splitlines()
    assert result.returncode == EXIT_INTERNAL_ERROR and len(lines) == 1, result.stderr
    said = re.fullmatch(r"lab: error: internal error \(RuntimeError: planted\), a bug of the lab: its traceback is in "
                        r"(?P<log>\S+); please report it to (?P<to>.+) with that file", lines[0])
    assert said is not None and said["to"] == BUG_REPORTS, lines[0]
    log = Path(said["log"])
    assert log.parent == tmp_path / "outage-lab-crashes" and log.name.startswith("crash-")
    written = log.read_text()
    assert "Traceback (most recent call last)" in written and "RuntimeError: planted" in written
    assert "validate db-network-misconfig" in written and written.startswith("outage-lab ")
