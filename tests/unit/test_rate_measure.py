"""The rate a machine was measured to carry: kept per host in the runs folder by the bench, and a run above it (or
above what any supported machine carries, on a machine never measured) says so before it starts."""

from __future__ import annotations

import json
from pathlib import Path

from lab.record.rate_measure import (
    MEASURE_FILE,
    UNMEASURED_RATE,
    RateMeasure,
    load_measure,
    save_measure,
    this_host,
    unmeasured,
)
from tests.cli import lab_cli


def test_a_machine_never_measured_is_trusted_up_to_what_any_machine_carries(tmp_path: Path) -> None:
    """Without a measure, rates up to UNMEASURED_RATE pass silently; above it the warning names the machine."""
    assert unmeasured(tmp_path, UNMEASURED_RATE) is None
    said = unmeasured(tmp_path, UNMEASURED_RATE + 1)
    assert said is not None and "has not been measured at 251 requests per second" in said and this_host() in said


def test_a_measured_machine_is_trusted_up_to_its_measure(tmp_path: Path) -> None:
    """The bench's measure of this host raises (or lowers) the bound; another host's does not count here."""
    save_measure(tmp_path, RateMeasure(host="elsewhere", cores=64, rate=5000, measured_at="2026-12-01T00:00:00+00:00"))
    save_measure(tmp_path, RateMeasure(host=this_host(), cores=2, rate=600, measured_at="2026-12-07T00:00:00+00:00"))
    assert load_measure(tmp_path, "elsewhere") is not None
    assert unmeasured(tmp_path, 600) is None
    said = unmeasured(tmp_path, 700)
    assert said is not None and "was measured to carry 600 requests per second" in said
    save_measure(tmp_path, RateMeasure(host=this_host(), cores=2, rate=100, measured_at="2026-12-07T01:00:00+00:00"))
    assert unmeasured(tmp_path, 200) is not None


def test_a_broken_measure_file_is_no_measure(tmp_path: Path) -> None:
    (tmp_path / MEASURE_FILE).write_text("[1, 2")
    assert load_measure(tmp_path, this_host()) is None
    wrong = {"host": this_host(), "cores": 2, "rate": "fast", "measured_at": "2026-12-07T00:00:00+00:00"}
    (tmp_path / MEASURE_FILE).write_text(json.dumps({this_host(): wrong}))
    assert load_measure(tmp_path, this_host()) is None
    assert unmeasured(tmp_path, 300) is not None


def test_a_run_above_the_measure_says_so_before_it_starts(tmp_path: Path) -> None:
    """`lab run --rate` above the bound prints its warning first, before anything is asked of Docker."""
    result = lab_cli("run", "db-network-misconfig", "--speed", "7", "--rate", "500",
                     env={"LAB_RUNS_DIR": str(tmp_path)})
    lines = result.stderr.splitlines()
    assert lines[0].startswith("lab: warning: this machine") and "500 requests per second" in lines[0]
    assert result.returncode == 3 and lines[1].startswith("lab: error: cannot reach the Docker daemon")
