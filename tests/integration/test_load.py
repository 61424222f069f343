"""`lab run` at a high rate through the seed fault: the open-loop generator sends and records every request
while a third of them hang, each with its planned and actual start, and the rebuilt app fails app-2's requests
exactly as the scenario expects (the pool's timeout after about 3 s, the same exception class)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.judge.checks.generator_kept_up import NAME as GENERATOR_KEPT_UP
from lab.stack.engine import Engine
from lab.stack.images import LabImages
from tests.cli import lab_cli

from .helpers import events_of, leftovers, seed, summary_of

pytestmark = pytest.mark.docker

RATE = 500.0
"""A high rate every machine the lab supports carries with every check passing (2 cores, one of them busy: the
bench's measure); the highest the lab accepts, MAX_RATE, is measured per machine by `make bench`."""
SPEED = "max"  # the seed's largest: the most requests per second of replay


def test_high_rate_through_the_fault_records_every_request_with_its_planned_start(
        tmp_path: Path, engine: Engine, lab_images: LabImages) -> None:
    """At a high rate, through the seed fault, every check passes; every request sent is recorded with its planned
    start (`t`), actual start and latency from the planned start; the summary carries the lateness figures and the
    generator check; app-2's requests fail with the pool's timeout after about 3 s, as at the default rate."""
    out = tmp_path / "run"
    result = lab_cli("run", seed(tmp_path), "--speed", SPEED, "--rate", f"{RATE:g}", "--out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    events = events_of(out)
    requests = [e for e in events if e["kind"] == "request"]
    ended = next(e for e in events if e["kind"] == "run.ended")
    planned_s = next(e for e in events if e["kind"] == "run.started")["planned_duration_s"]
    assert ended["requests_sent"] == ended["requests_recorded"] == len(requests) >= 0.9 * RATE * planned_s
    assert all(e["started_t"] >= e["t"] for e in requests)
    seqs = sorted(e["seq"] for e in requests)
    assert seqs == list(range(len(requests)))
    summary = summary_of(out)
    lateness = summary["lateness"]
    assert lateness["requests"] == len(requests) and lateness["p99_s"] is not None
    assert {c["name"]: c["passed"] for c in summary["checks"]}[GENERATOR_KEPT_UP]
    assert summary["verdict"] == "pass"
    fault = summary["fault"]["per_replica"]
    assert fault["app-2"]["error_rate"] > 0.7
    assert 2.5 <= fault["app-2"]["failure_p50_s"] <= 4.5  # the pool timeout (3 s), from the planned start
    failures = {e["error"].split(":")[0] for e in requests if not e["ok"] and e["replica"] == "app-2"}
    assert "psycopg_pool.PoolTimeout" in failures
    assert leftovers(engine, summary["run_id"]) == []
