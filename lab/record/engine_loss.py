"""The Docker engine going away mid-run (daemon stopped or restarted).

It is noticed when the engine's event stream ends while the run goes on (the daemon closes it once it has
stopped the containers, just before it exits), or when a call to the engine finds nobody listening. The run is
then stopped at once: what follows is no longer the scenario. Cleanup waits a bounded time for the engine to come
back before it reverts the faults, checks the acknowledged writes and removes the stack; if the engine stays
away, the next lab command reaps the run.
"""

from __future__ import annotations

import threading
import time

import docker
from docker.errors import APIError, NotFound

from lab.record.events import EventLog
from lab.record.schema import EngineGone, EngineLost, EngineReturned, EngineWaiting
from lab.signals import RunInterrupted
from lab.stack.docker_api import ENGINE_ERRORS, wait_for_engine

ENGINE_SHUTDOWN_S = 35.0
"""How long dockerd's shutdown may last: it stops every container within the longest of its --shutdown-timeout (15 s
by default) and each container's grace period plus 5 s (the built-in stack's db-disk has 30 s to save the
database's disk), then ends its event stream and exits."""


class EngineLoss:
    def __init__(self, log: EventLog, stop: threading.Event) -> None:
        self.log = log
        self.stop = stop
        self.reason: str | None = None
        self.returned = False
        self._lock = threading.Lock()
        self._lost = threading.Event()
        """Set with `reason`: `stop` may also be set by other causes (a drill's give-up)."""

    def notice(self, how: str) -> None:
        """Record the loss once and stop the run; `how` it was noticed, e.g. "its event stream ended". Called from
        the event watcher's thread, or from whatever made the failed call."""
        with self._lock:
            if self.reason is not None:
                return
            event = self.log.emit(EngineLost(detail=how))
            self.reason = f"the Docker engine went away at t={event['t']:.1f} s ({how})"
        self._lost.set()
        self.stop.set()

    def notice_if_stopping(self, client: docker.DockerClient, reaper_id: str | None) -> bool:
        """A step failed: was the engine shutting down under it? Its shutdown stops every container before the
        event stream ends, the run's reaper among them, which the lab itself never stops during a run; a step that
        acted on a container just stopped fails first, with an error of its own ("app-2 is not running"). So when
        the reaper is stopped or the engine does not answer, wait (bounded) for the stream's end to say whether the
        engine went away: then that is the cause, and cleanup waits for the engine; else the step's error stands
        (someone stopped the reaper by hand)."""
        if self.reason is None and reaper_id is not None and _stopped_or_gone(client, reaper_id):
            self._lost.wait(ENGINE_SHUTDOWN_S)  # notice(): once the stream has ended or a call found nobody
        return self.reason is not None

    def await_return(self, client: docker.DockerClient, timeout_s: float) -> None:
        """After a loss, wait for the engine so that cleanup can act; a no-op if none happened. Ctrl-C ends the
        wait early (the signal is still honoured: the caller's SignalGuard has it)."""
        if self.reason is None:
            return
        self.log.emit(EngineWaiting(timeout_s=timeout_s))
        started = time.monotonic()
        try:
            self.returned = wait_for_engine(client, timeout_s)
        except RunInterrupted:
            self.returned = False
        waited_s = round(time.monotonic() - started, 3)
        self.log.emit((EngineReturned if self.returned else EngineGone)(waited_s=waited_s))


def _stopped_or_gone(client: docker.DockerClient, container_id: str) -> bool:
    try:
        return not client.api.inspect_container(container_id)["State"]["Running"]
    except NotFound:  # the reaper removes itself once stopped
        return True
    except APIError:
        return False
    except ENGINE_ERRORS:  # nobody answers any more
        return True
