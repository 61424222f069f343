"""Noticing that the Docker engine went away, and what the run records and shows about it (no daemon needed:
the watcher reads any stream, and "no engine" is a client pointed at a socket nothing listens on)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import docker
import pytest
from rich.console import Console

from lab.clock import FakeClock
from lab.errors import EngineLost, Interrupted
from lab.judge.analysis import analyse
from lab.play.console import ENGINE_NEWS, ConsoleProgress
from lab.record import engine_loss
from lab.record.engine_loss import EngineLoss
from lab.record.events import EventLog, read_events
from lab.record.schema import EngineReturned
from lab.record.watchers import Watcher
from lab.stack.docker_api import wait_for_engine

from .streams import recording

NO_ENGINE = "unix:///nonexistent/outage-lab-test/docker.sock"


def no_engine() -> docker.DockerClient:
    return docker.DockerClient(base_url=NO_ENGINE, version="1.41")  # a fixed version: no call at construction


class Recording(Watcher):
    def __init__(self, log: EventLog, stream: Iterable[bytes], on_end: list[str]) -> None:
        super().__init__("test", log, lambda: stream, on_end.append)
        self.items: list[bytes] = []

    def handle(self, item: bytes) -> None:
        self.items.append(item)


@pytest.fixture
def log(tmp_path: Path) -> EventLog:
    return EventLog(tmp_path / "events.jsonl", FakeClock())


def test_a_stream_that_ends_by_itself_is_reported(log: EventLog) -> None:
    """A stream the engine ends is handed over whole and reported once as ended."""
    ended: list[str] = []
    watcher = Recording(log, iter([b"a", b"b"]), ended)
    watcher.start()
    watcher._thread.join(timeout=5)
    assert watcher.items == [b"a", b"b"] and ended == ["stream ended"]


def test_a_stream_that_breaks_is_reported_with_its_error(log: EventLog) -> None:
    """A stream that breaks is reported with its error, and recorded as a recorder warning."""
    def broken() -> Iterator[bytes]:
        yield b"a"
        raise ConnectionResetError("engine closed the connection")

    ended: list[str] = []
    watcher = Recording(log, broken(), ended)
    watcher.start()
    watcher._thread.join(timeout=5)
    assert ended == ["stream broke: ConnectionResetError"]
    assert [e["kind"] for e in read_events(log.path)] == ["recorder.warning"]


class EngineStream:
    """Like the engine's streams: iterating blocks until close(), which ends the iteration at once (close returns
    only once the reader has seen the end, so a stop() that closes before it says "stopping" loses the race)."""

    def __init__(self) -> None:
        self.closed = threading.Event()
        self.reader: threading.Thread | None = None

    def __iter__(self) -> Iterator[bytes]:
        while not self.closed.wait(0.01):
            yield b"tick"

    def close(self) -> None:
        self.closed.set()
        if self.reader is not None:
            self.reader.join(timeout=5)


def test_a_stream_closed_by_the_lab_is_not_a_loss(log: EventLog) -> None:
    """Watcher.stop() itself marks the end as the lab's doing: neither on_end nor a warning hears of it."""
    stream = EngineStream()
    ended: list[str] = []
    watcher = Recording(log, stream, ended)
    stream.reader = watcher._thread
    watcher.start()
    watcher.stop()
    assert not watcher._thread.is_alive() and stream.closed.is_set()
    assert ended == [] and read_events(log.path) == []


def test_a_loss_is_recorded_once_and_stops_the_run(log: EventLog) -> None:
    """The first notice of a loss records engine.lost with its reason and stops the run; later notices add nothing."""
    stop = threading.Event()
    loss = EngineLoss(log, stop)
    loss.notice("its event stream ended")
    loss.notice("its event stream broke: ProtocolError")
    assert stop.is_set()
    assert loss.reason == "the Docker engine went away at t=0.0 s (its event stream ended)"
    assert [e["kind"] for e in read_events(log.path)] == ["engine.lost"]


def test_a_step_failing_as_the_engine_shuts_down_waits_for_the_streams_end(log: EventLog) -> None:
    """A step failed and the engine does not answer about the run's reaper: the loss is the cause once the event
    stream's end is noticed, even when the drill's stop was already set by a trainee's give-up."""
    stop = threading.Event()
    stop.set()  # a give-up came first: it must not cut the wait short
    loss = EngineLoss(log, stop)
    threading.Timer(0.3, loss.notice, args=("its event stream ended",)).start()
    assert loss.notice_if_stopping(no_engine(), "reaper-id") is True
    assert loss.reason == "the Docker engine went away at t=0.0 s (its event stream ended)"


def test_a_step_failing_with_the_engine_fine_or_no_reaper_is_its_own_error(log: EventLog,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a reaper to look at (a detached stack) the step's error stands at once; with one the engine does not
    answer about but no loss noticed within the engine's shutdown time, it stands too."""
    loss = EngineLoss(log, threading.Event())
    assert loss.notice_if_stopping(no_engine(), None) is False
    monkeypatch.setattr(engine_loss, "ENGINE_SHUTDOWN_S", 0.2)
    assert loss.notice_if_stopping(no_engine(), "reaper-id") is False
    assert loss.reason is None and read_events(log.path) == []


def test_without_a_loss_cleanup_does_not_wait(log: EventLog) -> None:
    """With no loss noticed, cleanup neither waits for the engine nor records anything."""
    loss = EngineLoss(log, threading.Event())
    loss.await_return(no_engine(), timeout_s=30)
    assert read_events(log.path) == [] and not loss.returned


def test_an_engine_that_stays_away_is_given_up_on_after_the_wait(log: EventLog) -> None:
    """An engine still away after the wait is given up on: lost, waiting, gone on the recording."""
    loss = EngineLoss(log, threading.Event())
    loss.notice("its event stream ended")
    loss.await_return(no_engine(), timeout_s=0.3)
    assert not loss.returned
    assert [e["kind"] for e in read_events(log.path)] == ["engine.lost", "engine.waiting", "engine.gone"]


def test_wait_for_engine_is_false_when_nothing_answers() -> None:
    """wait_for_engine says False once its timeout passes with nothing listening."""
    assert wait_for_engine(no_engine(), timeout_s=0.2, poll_s=0.05) is False


def test_every_engine_event_is_shown_to_the_person_running_the_lab(log: EventLog) -> None:
    """Each engine event (lost, waiting, gone, returned) is shown once on the console."""
    output = io.StringIO()
    progress = ConsoleProgress(Console(file=output, width=200), FakeClock())
    loss = EngineLoss(log, threading.Event())
    log.subscribe(progress)
    loss.notice("its event stream ended")
    loss.await_return(no_engine(), timeout_s=0.1)
    log.emit(EngineReturned(waited_s=2.0))
    shown = output.getvalue()
    assert shown.count("ENGINE") == len(ENGINE_NEWS)
    assert "went away (its event stream ended): stopping the run" in shown and "back after 2.0 s" in shown


def test_the_analysis_carries_why_a_recording_ends() -> None:
    """A partial recording's end milestone and analysis carry the reason it ended."""
    events = recording()
    ended = next(e for e in events if e["kind"] == "run.ended")
    ended.update(partial=True, reason="aborted: the Docker engine went away at t=16.9 s (its event stream ended)")
    analysis = analyse(events)
    assert analysis.partial and analysis.ended_reason == ended["reason"]
    end = analysis.milestone("end")
    assert end is not None and end.detail == f"recording partial: {ended['reason']}"


def test_an_interrupted_run_whose_cleanup_failed_does_not_claim_a_clean_stop() -> None:
    """An interruption whose cleanup failed says what is left instead of claiming a clean stop."""
    assert str(Interrupted("SIGINT", 130)).endswith("faults reverted, stack removed, recording marked partial")
    left = EngineLost("cannot remove run r1: the Docker engine is not answering")
    message = str(Interrupted("SIGTERM", 143, left))
    assert "stack removed" not in message and message.endswith(f"but {left}")
