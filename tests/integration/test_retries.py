"""Clients that retry, on the built-in stack: the load balancer answers 503 to every request for 10 s (http-error at
share 1.0, a service failing fast) while the synthetic users retry. A retry storm (5 attempts, no backoff) offers the
service about five times its base load during the fault; backoff and jitter alone still about three times (the
outage outlasts every backoff); backoff, jitter and a retry budget keep it near the base load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.stack.engine import Engine
from lab.stack.images import LabImages
from tests.cli import lab_cli
from tests.figures import Figure

from .helpers import events_of, leftovers, summary_of

# Alone on the machine (make test runs the others two at a time): it plays whole `lab run`s, whose checks hold
# the generator to its schedule; a run beside it would take its CPU.
pytestmark = [pytest.mark.docker, pytest.mark.serial]

STORM = {"attempts": 5, "backoff_s": 0, "jitter": "none", "retry_on": [503]}
BACKOFF = {"attempts": 3, "backoff_s": 0.5, "multiplier": 2, "max_backoff_s": 5, "jitter": "full"}
BUDGETED = {**BACKOFF, "budget": {"ratio": 0.1, "window_s": 10}}


def scenario(tmp_path: Path, policy: dict[str, Any]) -> Path:
    document = {
        "name": "retrying-clients", "title": "The load balancer answers 503 to every request for 10 s",
        "time": {"seconds_per_incident_minute": 1.0, "steady_state_s": 6, "tail_s": 5},
        "traffic": {"rate": 20, "retry": policy},
        "faults": [{"id": "lb-503", "kind": "http-error", "target": "lb", "share": 1.0, "response": 503}],
        "timeline": [{"at": 0, "action": "apply", "fault": "lb-503", "text": "every request answered 503"},
                     {"at": 10, "action": "revert", "fault": "lb-503", "milestone": "mitigation",
                      "text": "the load balancer passes requests again"}],
        "checks": {"steady_state": {"max_error_rate": 0.01}, "recovery": {"within_s": 10}},
    }
    path = tmp_path / "retrying-clients.yaml"
    tmp_path.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document))
    return path


def played(tmp_path: Path, engine: Engine, name: str, policy: dict[str, Any]) -> dict[str, Any]:
    """The run's summary.json `amplification`, after checking that every attempt is on the timeline."""
    out = tmp_path / name
    result = lab_cli("run", str(scenario(tmp_path / f"{name}-scenario", policy)), "--out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    summary = summary_of(out)
    requests = [e for e in events_of(out) if e["kind"] == "request"]
    firsts = {e["seq"]: e["t"] for e in requests if e["attempt"] == 1}
    retries = [e for e in requests if e["attempt"] > 1]
    assert all(firsts[e["seq"]] == e["first_t"] < e["t"] for e in retries)  # each linked to its first attempt
    assert summary["traffic"]["sent"] == len(requests)
    assert leftovers(engine, summary["run_id"]) == []
    figures: dict[str, Any] = summary["amplification"]
    assert figures["attempts"] == len(requests) and figures["operations"] == len(firsts)
    assert summary["lateness"]["requests"] == len(firsts)  # the schedule's punctuality, not the backoffs'
    return {**figures, "lateness_p99_s": summary["lateness"]["p99_s"]}


def test_a_retry_storm_multiplies_the_load_while_backoff_and_a_budget_keep_it_near_the_base(
        tmp_path: Path, engine: Engine, lab_images: LabImages, figure: Figure) -> None:
    """During the 10-s fault: the storm's offered load is over twice the base load (each operation 5 attempts, all
    failing in milliseconds); backoff and full jitter without a budget still over twice (3 attempts, all within the
    fault); with a budget of 0.1 retry per first attempt, under 1.3. Before the fault every policy is at 1.0, and
    every operation begun before the fault succeeds."""
    storm = played(tmp_path, engine, "storm", STORM)
    backoff = played(tmp_path, engine, "backoff", BACKOFF)
    budgeted = played(tmp_path, engine, "budgeted", BUDGETED)
    for name, figures in (("storm", storm), ("backoff+jitter", backoff), ("backoff+jitter+budget", budgeted)):
        during, before = figures["during_faults"], figures["before_fault"]
        figure(f"[retries: {name}] amplification during the fault {during['amplification']} "
               f"({during['attempts']} attempts for {during['operations']} operations), overall "
               f"{figures['amplification']}, before {before['amplification']}; operations that finally succeeded "
               f"{figures['success_share']:.1%} (first attempt {figures['first_try_share']:.1%}; begun during "
               f"the fault {figures['during_faults_success_share']:.1%}); not retried {figures['not_retried']}; "
               f"first attempts' start lateness p99 {figures['lateness_p99_s'] * 1000:.1f} ms")
    assert storm["during_faults"]["amplification"] > 2
    assert backoff["during_faults"]["amplification"] > 2
    assert budgeted["during_faults"]["amplification"] < 1.3
    assert budgeted["not_retried"].get("budget", 0) > 0
    for figures in (storm, backoff, budgeted):
        assert figures["before_fault"]["amplification"] == 1.0
