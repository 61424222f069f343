"""The recorder: synthetic users, engine events, app error logs and alerts on one clock in events.jsonl.

Used by `lab run` (with the runner playing the timeline) and by `lab drill` (with a trainee at the controls).
Start it, let things happen, then `finish()`: it stops the observers, checks that every acknowledged write is
in the database, and closes the recording with run.ended.
"""

from __future__ import annotations

import functools
import re
import threading
from pathlib import Path

from lab.clock import MonotonicClock
from lab.record.alerts import AlertEvaluator
from lab.record.engine_loss import EngineLoss
from lab.record.events import EventLog
from lab.record.prometheus_alerts import PrometheusAlerts
from lab.record.schema import (
    GENERATOR_SOURCE,
    RecorderWarning,
    RunEnded,
    RunStarted,
    WritesChecking,
    WritesDbStarted,
    WritesVerified,
)
from lab.record.users import SyntheticUsers
from lab.record.watchers import AppLogWatcher, DockerEventWatcher, Watcher
from lab.record.writes import verify_acknowledged_writes
from lab.scenario.document import Scenario
from lab.stack import observability
from lab.stack.project import Stack


class Recorder:
    def __init__(self, scenario: Scenario, stack: Stack, run_dir: Path, seed: int = 0,
                 stop_on_engine_loss: threading.Event | None = None, mode: str = "run") -> None:
        """`stop_on_engine_loss` is set if the Docker engine goes away: whatever plays the run waits on it. `mode`:
        what plays ("run" or "drill")."""
        self.stack = stack
        self.clock = MonotonicClock()
        self.log = EventLog(run_dir / "events.jsonl", self.clock)
        endpoints = stack.endpoints()
        self.log.emit(RunStarted(run_id=stack.run_id, scenario=scenario.name, rate=scenario.traffic.rate,
                                 variant=scenario.variant.name if scenario.variant else None, lb_url=endpoints.lb_url,
                                 seed=seed, mode=mode, speed=scenario.speed, planned_duration_s=scenario.duration_s))
        self.workload = scenario.workload_spec
        self.users = SyntheticUsers(endpoints.lb_url, scenario.traffic, self.log, self.clock, seed=seed,
                                    workload=self.workload, served_by_header=stack.spec.served_by_header)
        self.engine_loss = EngineLoss(self.log, stop_on_engine_loss or threading.Event())
        self.watchers: list[Watcher] = [DockerEventWatcher(stack.client, stack.run_id, self.log,
                                                           on_end=self._event_stream_ended)]
        app_logs = stack.spec.app_logs
        if app_logs is not None:
            pattern = None if app_logs.format == "lab-json" else re.compile(app_logs.error_pattern)
            self.watchers += [AppLogWatcher(functools.partial(stack.container, name), name, self.log, pattern)
                              for name in app_logs.services]
        self.log.subscribe(AlertEvaluator(scenario.alerts, self.log))
        urls = observability.urls(stack.containers()) if scenario.observe is not None else None
        self.prometheus_alerts = PrometheusAlerts(urls.prometheus, self.log) if urls is not None else None

    def start(self) -> None:
        for watcher in self.watchers:
            watcher.start()
        if self.prometheus_alerts is not None:
            self.prometheus_alerts.start()
        self.users.start()

    def _event_stream_ended(self, how: str) -> None:
        """The engine ends its event stream only when it shuts down."""
        self.engine_loss.notice(f"its event {how}")

    def engine_stopped_under_step(self) -> bool:
        """A step failed: whether the engine shutting down caused it (EngineLoss.notice_if_stopping, on this run's
        reaper)."""
        reaper = self.stack.reaper
        return self.engine_loss.notice_if_stopping(self.stack.client, reaper.container_id if reaper else None)

    def await_engine(self) -> None:
        """If the engine went away, wait (bounded) for it to come back so that cleanup can act. Call before
        reverting faults."""
        self.engine_loss.await_return(self.stack.client, self.stack.settings.engine_wait_s)

    def finish(self, partial: bool, reason: str, revert_problems: list[str]) -> None:
        """Stop traffic and watchers, verify the writes, close the recording. Never raises: it runs in cleanup (a
        load generator that failed is a warning on the recording, which the generator check then fails)."""
        try:
            self.users.stop()
        except RuntimeError as exc:  # lab.record.loadgen's failure, with how it failed
            self.log.emit(RecorderWarning(source=GENERATOR_SOURCE, message=str(exc)))
        for watcher in self.watchers:
            watcher.stop()
        if self.prometheus_alerts is not None:
            self.prometheus_alerts.stop()
        self._verify_writes()
        self.log.emit(RunEnded(partial=partial, reason=reason, requests_sent=self.users.sent,
                               requests_recorded=self.users.recorded, revert_problems=revert_problems))
        self.log.close()

    def _verify_writes(self) -> None:
        declared = self.workload.write_check
        if declared is None:  # nothing to check: the scenario's no_write_lost check cannot be asked for then
            return
        acknowledged = self.users.acknowledged
        self.log.emit(WritesChecking(acknowledged=len(set(acknowledged))))
        try:
            databases = self.stack.databases
            if self.engine_loss.returned:  # the engine's restart stopped the database: its data should be intact
                for service in self.stack.start_stopped(databases.services):
                    self.log.emit(WritesDbStarted(service=service))
            database = databases.access(declared.database)
            _, password = databases.credentials(database)
            check = verify_acknowledged_writes(databases.conninfo(database.service), password, acknowledged,
                                               declared.query)
        except Exception as exc:  # recorded; the no_write_lost check then fails with the reason
            self.log.emit(WritesVerified(acknowledged=len(set(acknowledged)), error=f"{type(exc).__name__}: {exc}"))
            return
        self.log.emit(WritesVerified(acknowledged=check.acknowledged, found=check.found, missing=check.missing))
