"""Waiting until a stack's services are ready: the engine says whether each runs (and what its Docker health check
said), the lab's own probe whether it serves.

Asking the engine is dear while a stack starts, and the engine is what the start waits on: listing a run's
containers is an API call per container (docker-py inspects each one), and a service's last log line one more. So
the engine is asked at most every ENGINE_EVERY_S and once more before the wait ends, a service that has answered
its probe is not asked again, and the last log line is read only for the message of a wait that failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from docker.errors import APIError

from lab.errors import StackError

ENGINE_EVERY_S = 0.5
"""While services start, how often the engine is asked whether they still run (the probes are asked every poll)."""


class NotReadyYet(Exception):
    """A service is not ready yet (retried until the wait's deadline)."""

    def __init__(self, service: str, status: str, container: Any) -> None:
        super().__init__(f"{service} is {status}")
        self.service = service
        self.container = container

    def with_last_words(self) -> str:
        """The message, with the service's last log line (read now: an API call)."""
        return f"{self}: {last_log_line(self.container)}"


class Watched(Protocol):
    """What the wait asks: the run's containers by service (the engine), and the lab's own probe of one."""

    run_id: str

    def containers(self) -> dict[str, Any]: ...

    def ready(self, service: str, container: Any) -> bool: ...


class HealthWait:
    """Call check() until it stops raising NotReadyYet; StackError at once if a service exited or vanished."""

    def __init__(self, watched: Watched, services: tuple[str, ...],
                 now: Callable[[], float] = time.monotonic) -> None:
        self.watched = watched
        self.services = services
        self.now = now
        self.passed: set[str] = set()
        """Services that answered the lab's probe, or that Docker called healthy, or that have no health check."""
        self._found: dict[str, Any] = {}
        self._asked_at: float | None = None
        self._started_at: dict[str, object] = {}
        """When each passed service's container started, as the engine said: a restart since means waiting again."""

    def check(self, fresh: bool = False) -> None:
        """One poll; `fresh`: ask the engine now, however recently it was asked (a wait's last chance)."""
        fresh = fresh or self._asked_at is None or self.now() - self._asked_at >= ENGINE_EVERY_S
        if fresh:
            self._ask_engine()
        self._try_pending()
        if not fresh:  # every one passed: make sure none has exited or restarted since the engine was last asked
            self._ask_engine()
            self._try_pending()

    def _try_pending(self) -> None:
        for name in self.services:
            if name not in self.passed:
                self._try(name)

    def _ask_engine(self) -> None:
        """The containers as the engine describes them now. StackError if one has exited or vanished; a service
        that passed and has since stopped running, restarted or turned unhealthy is waited for again."""
        self._asked_at = self.now()
        self._found = self.watched.containers()
        missing = [name for name in self.services if name not in self._found]
        if missing:  # `compose up` has created them all by now: something else removed them
            raise StackError(f"stack {self.watched.run_id} lost its containers for {', '.join(missing)} "
                             "(removed from outside)")
        for name in self.services:
            container = self._found[name]
            state = container.attrs["State"]
            if state["Status"] in ("exited", "dead"):
                raise StackError(f"{name} exited with code {state['ExitCode']}: {last_log_line(container)}")
            if name in self.passed and (state["Status"] != "running" or _health(state) == "unhealthy"
                                        or state.get("StartedAt") != self._started_at.get(name)):
                self.passed.discard(name)

    def _try(self, name: str) -> None:
        container = self._found[name]
        state = container.attrs["State"]
        health = _health(state)
        if state["Status"] == "running" and (health in ("healthy", None) or self.watched.ready(name, container)):
            self.passed.add(name)
            self._started_at[name] = state.get("StartedAt")
            return
        raise NotReadyYet(name, f"{state['Status']}/{health or 'no health check'}", container)


def _health(state: dict[str, Any]) -> str | None:
    """What Docker's health check last said (None: the container has none)."""
    health: str | None = state.get("Health", {}).get("Status")
    return health


def last_log_line(container: Any) -> str:
    try:
        lines = container.logs(tail=5).decode(errors="replace").strip().splitlines()
    except APIError:
        return "(no logs)"
    return lines[-1] if lines else "(no logs)"
