"""The one ordered teardown of a run or a drill, whatever ended it (completed, failed, interrupted, the engine gone):
stop watching the faults, wait a bounded time for a lost Docker engine to come back, revert every fault still in
place (recorded as cleanup), stop what people look at, then stop traffic, verify the acknowledged writes and close
the recording. The stack itself goes afterwards, with its context manager, or with its reaper if this process
dies first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from lab.play.performer import StepPerformer
from lab.record.recorder import Recorder


class Stoppable(Protocol):
    def stop(self) -> None: ...


def tear_down(recorder: Recorder, performer: StepPerformer, views: Sequence[Stoppable], *, partial: bool,
              reason: str) -> None:
    """Never raises for a fault it cannot revert: each problem is recorded and listed in run.ended."""
    if performer.watch is not None:
        performer.watch.stop()
    recorder.await_engine()
    revert_problems = performer.revert_all()
    for view in views:
        view.stop()
    recorder.finish(partial, reason, revert_problems=revert_problems)
