"""Streams from the engine onto the run's timeline: container events (restarts, health) and the app replicas'
database-error log lines. Watchers are observers: a failure is recorded as a warning, never raised."""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import docker
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, stop_when_event_set, wait_fixed

from lab.errors import LabError
from lab.record.events import EventLog
from lab.record.schema import (
    AppDbError,
    AppError,
    AppPoolWarning,
    DockerContainer,
    DockerExec,
    DockerHealth,
    RecorderWarning,
)
from lab.stack import labels
from lab.stack.docker_api import ENGINE_ERRORS

CONTAINER_ACTIONS = {"create", "start", "restart", "stop", "kill", "die", "oom", "destroy"}
FOLLOW_AGAIN_WITHIN_S = 300.0
"""How long an app's log is waited for after its container stopped (a crash loop's restarts back off to a minute)."""


class NotRunning(Exception):
    """The service's container is not running (yet): its log cannot be followed now."""


class Watcher:
    """A daemon thread reading one blocking stream from the engine until it is closed."""

    def __init__(self, name: str, log: EventLog, open_stream: Callable[[], Any],
                 on_end: Callable[[str], None] | None = None) -> None:
        self.name = name
        self.log = log
        self._open_stream = open_stream
        self._on_end = on_end
        self._stream: Any = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watch-{name}", daemon=True)

    def start(self) -> None:
        self._stream = self._open_stream()
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(Exception):  # closing a stream the engine already ended
            self._stream.close()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        ended = "stream ended"
        try:
            for item in self._stream:
                self.handle(item)
        except Exception as exc:
            ended = f"stream broke: {type(exc).__name__}"
            if not self._stopping.is_set():
                self.log.emit(RecorderWarning(source=self.name, message=f"{type(exc).__name__}: {exc}"))
        if self._on_end is not None and not self._stopping.is_set():
            self._on_end(ended)

    def handle(self, item: Any) -> None:
        raise NotImplementedError


class DockerEventWatcher(Watcher):
    """The run's container events. The engine only ends this stream when it shuts down, so `on_end` hears of a
    daemon stop or restart (see lab.record.engine_loss)."""

    def __init__(self, client: docker.DockerClient, run_id: str, log: EventLog,
                 on_end: Callable[[str], None] | None = None) -> None:
        since = datetime.now(UTC)
        super().__init__("docker-events", log,
                         lambda: client.events(decode=True, since=since, filters=labels.run_filter(run_id)), on_end)
        self.client = client
        self._health_commands: dict[str, str] = {}

    def handle(self, item: Any) -> None:
        if item.get("Type") != "container":
            return
        action = str(item.get("Action") or item.get("status") or "")
        attributes = item.get("Actor", {}).get("Attributes", {})
        if attributes.get(labels.PROBE):
            return
        service = attributes.get(labels.COMPOSE_SERVICE) or attributes.get(labels.FAULT, "")
        role = attributes.get(labels.ROLE, "")
        if action.startswith("exec_start:") and role == labels.ROLE_STACK:
            # Someone's `docker exec` (or `lab exec`): the engine names the command; health checks are not news.
            command = action.split(":", 1)[1].strip()
            if command != self._health_command(str(item.get("id", ""))):
                self.log.emit(DockerExec(service=service, command=command))
            return
        kind: type[DockerContainer]
        if action.startswith("health_status"):
            kind, health = DockerHealth, action.split(":", 1)[-1].strip()
        elif action in CONTAINER_ACTIONS:
            kind, health = DockerContainer, None
        else:
            return  # exec_create/exec_die and attach events
        self.log.emit(kind(action=action.split(":")[0], service=service, role=role, health=health,
                           exit_code=attributes.get("exitCode")))

    def _health_command(self, container_id: str) -> str:
        """The container's health check as the engine writes it in exec events ("" if it has none)."""
        if container_id not in self._health_commands:
            try:
                test = (self.client.api.inspect_container(container_id)["Config"].get("Healthcheck") or {})["Test"]
            except (*ENGINE_ERRORS, KeyError, TypeError):  # gone meanwhile: the exec is then shown
                test = []
            if test[:1] == ["CMD-SHELL"]:
                test = ["CMD", "/bin/sh", "-c", *test[1:]]
            self._health_commands[container_id] = " ".join(test[1:]) if test[:1] == ["CMD"] else ""
        return self._health_commands[container_id]


class AppLogWatcher(Watcher):
    """Follows one app service's log and records its errors: the built-in app's JSON lines (each database error
    with its exact exception class), or, for a team's app, every line that matches the scenario's pattern.

    It follows the service, not one container: the engine ends a log stream when its container stops, and a deploy
    replaces the container. Then it waits until the service's container (the same one restarted, or its
    replacement) runs, and reads on from the moment the last stream ended, so no line is read twice or lost."""

    def __init__(self, container_of: Callable[[], Any], service: str, log: EventLog,
                 error_pattern: re.Pattern[str] | None = None) -> None:
        super().__init__(f"logs-{service}", log, lambda: self._follow(datetime.now(UTC)))
        self.container_of = container_of
        self.service = service
        self.error_pattern = error_pattern
        """None: the built-in app's JSON lines."""
        self._partial = b""

    def _follow(self, since: datetime) -> Any:
        # A float: a datetime is sent in whole seconds, and a restarted container's last second would be read twice.
        return self.container_of().logs(stream=True, follow=True, since=since.timestamp(), stdout=True, stderr=True)

    def _run(self) -> None:
        while True:
            super()._run()
            ended = datetime.now(UTC)
            if self._stopping.is_set():
                return
            try:
                self._stream = Retrying(
                    stop=stop_after_delay(FOLLOW_AGAIN_WITHIN_S) | stop_when_event_set(self._stopping),
                    wait=wait_fixed(0.2), reraise=True,
                    retry=retry_if_exception_type((NotRunning, *ENGINE_ERRORS, LabError)))(self._reopen, ended)
            except (NotRunning, *ENGINE_ERRORS, LabError) as exc:
                if not self._stopping.is_set():
                    self.log.emit(RecorderWarning(source=self.name, message=f"its log is no longer followed: {exc}"))
                return
            if self._stopping.is_set():  # stopped while the stream opened: stop() closed the one before it
                with contextlib.suppress(Exception):
                    self._stream.close()
                return

    def _reopen(self, since: datetime) -> Any:
        if self._stopping.is_set():
            raise NotRunning("stopping")  # the run ends: nothing more to follow
        container = self.container_of()
        if container.status != "running":
            raise NotRunning(f"{self.service} is {container.status}")
        return self._follow(since)

    def handle(self, item: Any) -> None:
        self._partial += item
        *lines, self._partial = self._partial.split(b"\n")
        for line in lines:
            self._record(line.decode(errors="replace").strip())

    def _record(self, line: str) -> None:
        if self.error_pattern is not None:
            if line and self.error_pattern.search(line):
                self.log.emit(AppError(replica=self.service, message=line[:500]))
            return
        if not line.startswith("{"):
            return
        try:
            entry = json.loads(line)
        except ValueError:
            return
        if entry.get("event") == "db_error":  # a team's app may log any JSON value: the recording keeps text
            self.log.emit(AppDbError(replica=self.service, error_class=_text(entry.get("error_class")),
                                     message=_text(entry.get("message")), during=_text(entry.get("during")),
                                     app_ts=_text(entry.get("ts"))))
        elif entry.get("event") == "pool_warning":
            self.log.emit(AppPoolWarning(replica=self.service, message=_text(entry.get("message"))))


def _text(value: object) -> str | None:
    """A field of an app's JSON log line as the recording keeps it: text, or null (a number or an object, as JSON)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)
