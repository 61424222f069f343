"""Alert evaluation on the request stream, the event log's durability and observer isolation, and which engine
events a recording keeps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.clock import FakeClock, MonotonicClock
from lab.record.alerts import AlertEvaluator, AlertState
from lab.record.drill_schema import DrillAck
from lab.record.events import Event, EventLog, read_events
from lab.record.schema import FaultApplied, UserRequest
from lab.record.watchers import AppLogWatcher, DockerEventWatcher
from lab.scenario.alerts import AlertRule

RULE = AlertRule(name="error-rate-high", error_rate_above=0.05, window_s=5.0, min_requests=10)


def test_alert_fires_once_over_threshold_and_resolves_when_back_under() -> None:
    """Firing needs min_requests in the window and a rate above the threshold; it resolves at or below it."""
    state = AlertState(RULE)
    transitions = [state.observe(t * 0.1, ok=True) for t in range(50)]
    transitions += [state.observe(5 + t * 0.1, ok=t % 3 != 0) for t in range(50)]
    transitions += [state.observe(10 + t * 0.1, ok=True) for t in range(100)]
    assert [t for t in transitions if t] == ["fired", "resolved"]


def test_alert_needs_enough_requests() -> None:
    """Two failures out of two requests are not yet an alert with min_requests=10."""
    state = AlertState(RULE)
    assert [state.observe(0.1, ok=False), state.observe(0.2, ok=False)] == [None, None]


def test_evaluator_records_alert_events(tmp_path: Path) -> None:
    """Fed from the log, the evaluator writes alert.fired with the rule and the rate it saw."""
    log = EventLog(tmp_path / "events.jsonl", FakeClock())
    log.subscribe(AlertEvaluator((RULE,), log))
    for seq in range(20):
        log.emit(UserRequest(ok=seq % 2 == 0, latency_s=0.01), t=seq * 0.1)
    fired = [e for e in read_events(log.path) if e["kind"] == "alert.fired"]
    assert len(fired) == 1 and fired[0]["alert"] == "error-rate-high" and fired[0]["error_rate"] > 0.05


def test_every_event_is_on_disk_as_soon_as_it_is_emitted(tmp_path: Path) -> None:
    """Flushed per line: a reader sees the event before the log is closed (a crash loses nothing)."""
    log = EventLog(tmp_path / "events.jsonl", FakeClock())
    log.emit(FaultApplied(fault="x", target="app-2", fault_kind="packet-drop", effect_s=0.01, detail=""))
    assert json.loads((tmp_path / "events.jsonl").read_text())["kind"] == "fault.applied"


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path: Path) -> None:
    """The complete lines of a recording are read even if the last one was cut mid-write."""
    path = tmp_path / "events.jsonl"
    path.write_text('{"t": 1, "wall": "2026-11-26T21:10:01.000+00:00", "kind": "a"}\n{"t": 2, "wall": "2026-11-2')
    assert [e["kind"] for e in read_events(path)] == ["a"]


def test_a_failing_observer_does_not_stop_the_recording(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Observers watch; one that raises is reported once and every event is still written."""
    log = EventLog(tmp_path / "events.jsonl", FakeClock())

    def broken(event: Event) -> None:
        raise RuntimeError("boom")

    log.subscribe(broken)
    for _ in range(3):
        log.emit(DrillAck())
    assert len(read_events(log.path)) == 3
    assert capsys.readouterr().err.count("boom") == 1


class _Engine:
    """Answers the one inspect the event watcher makes: the container's health check."""

    def __init__(self, test: list[str]) -> None:
        self.api = self
        self._test = test

    def inspect_container(self, container_id: str) -> dict[str, object]:
        return {"Config": {"Healthcheck": {"Test": self._test}}}


def test_a_trainees_docker_exec_is_recorded_but_health_checks_are_not(tmp_path: Path) -> None:
    """exec_start of the container's own health check is noise; any other command in a stack container is news."""
    log = EventLog(tmp_path / "events.jsonl", FakeClock())
    watcher = DockerEventWatcher(_Engine(["CMD-SHELL", "pg_isready -q"]), "r1", log)
    attributes = {"com.docker.compose.service": "db", "outage-lab.role": "stack"}
    for action in ("exec_create: /bin/sh -c pg_isready -q", "exec_start: /bin/sh -c pg_isready -q",
                   "exec_start: psql -c select 1", "exec_die"):
        watcher.handle({"Type": "container", "Action": action, "id": "c1", "Actor": {"Attributes": attributes}})
    recorded = [(e["kind"], e["service"], e["command"]) for e in read_events(log.path)]
    assert recorded == [("docker.exec", "db", "psql -c select 1")]


def test_a_teams_json_log_line_with_numbers_or_objects_is_recorded_as_text(tmp_path: Path) -> None:
    """A team's app logging in the lab's JSON format may put any JSON value in a field: the recording keeps text,
    so that its own run can read it back (an error class 1205 had made the run's recording unreadable)."""
    log = EventLog(tmp_path / "events.jsonl", MonotonicClock())
    watcher = AppLogWatcher(object, "api", log)
    watcher.handle(b'{"event": "db_error", "error_class": 1205, "message": "deadlock", "during": {"route": "/o"},'
                   b' "ts": 5}\n{"event": "pool_warning", "message": ["a", 1]}\n')
    log.close()
    error, warning = read_events(log.path)
    assert (error["error_class"], error["message"], error["during"], error["app_ts"]) == \
        ("1205", "deadlock", '{"route": "/o"}', "5")
    assert warning["message"] == '["a", 1]'
