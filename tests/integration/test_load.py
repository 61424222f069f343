"""`lab run` at a high rate through the seed fault: the open-loop generator sends and records every request
while a third of them hang, each with its planned and actual start, and the rebuilt app fails app-2's requests
exactly as the scenario expects (the pool's timeout after about 3 s, the same exception class). And a surge on the
timeline (`load` steps): sent at its offset, at its rate, on time."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.judge.checks.generator_kept_up import NAME as GENERATOR_KEPT_UP
from lab.stack.engine import Engine
from lab.stack.images import LabImages
from tests.cli import lab_cli
from tests.figures import Figure

from .helpers import events_of, leftovers, seed, summary_of, variant

# Alone on the engine (make test runs the others two at a time): it measures the generator's start lateness at high
# rates.
pytestmark = [pytest.mark.docker, pytest.mark.serial]

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


SURGE = 200.0


def test_a_surge_on_the_timeline_is_sent_at_its_offset_at_its_rate_and_on_time(
        tmp_path: Path, engine: Engine, lab_images: LabImages, figure: Figure) -> None:
    """The seed with its users jumping from 20 to 200 req/s at minute 5 and ramping back to 20 from minute 35 over
    30 minutes (speed 5: 6 s): from the next request planned after the jump, 2 s plan 400 requests (+-2), the 2 s
    before it 40; the ramp's first and last seconds show its rate falling; every request starts on time (the
    generator check passes)."""
    def surge(document: dict[str, object]) -> None:
        timeline = document["timeline"]
        assert isinstance(timeline, list)
        timeline.insert(2, {"at": 5, "action": "load", "rate": SURGE, "text": "a surge"})
        timeline.insert(5, {"at": 35, "action": "load", "rate": 20, "over": 30, "text": "the surge fades"})

    out = tmp_path / "run"
    result = lab_cli("run", str(variant(tmp_path, surge)), "--speed", "5", "--out", str(out))
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-2000:]
    events = events_of(out)
    changes = [e for e in events if e["kind"] == "traffic.changed"]
    assert [(e["rate"], e["ramp_s"]) for e in changes] == [(SURGE, 0.0), (20.0, 6.0)], changes
    jump, fade = changes[0]["t"], changes[1]["t"]
    planned = sorted(e["t"] for e in events if e["kind"] == "request")

    def count(start: float, end: float) -> int:
        return sum(start <= t < end for t in planned)

    surged = next(t for t in planned if t >= jump)  # the next request planned at the old rate: 1/20 s at most later
    assert surged - jump <= 1 / 20 + 0.01, (jump, surged)
    assert abs(count(surged, surged + 2) - 2 * SURGE) <= 2, count(surged, surged + 2)
    assert abs(count(jump - 2, jump) - 40) <= 2, count(jump - 2, jump)
    first, last = count(fade, fade + 1), count(fade + 5, fade + 6)
    assert 170 <= first <= 200 and 20 <= last <= 50, (first, last)  # 200 -> 20 over 6 s: 185 then 35 per second
    summary = summary_of(out)
    assert {c["name"]: c["passed"] for c in summary["checks"]}[GENERATOR_KEPT_UP], summary["lateness"]
    assert leftovers(engine, summary["run_id"]) == []
    figure(f"[load step] 2 s before the jump: {count(jump - 2, jump)} requests; 2 s after: "
           f"{count(surged, surged + 2)} (first {(surged - jump) * 1000:.1f} ms after the step); the ramp down's "
           f"first and last second: {first}, {last}; start lateness p99 {summary['lateness']['p99_s'] * 1000:.1f} "
           f"ms; verdict {summary['verdict']}")
