"""The events of a drill: what its trainee did and how it ended, declared as every other kind is (lab.record.schema,
whose registry they join when this module is imported: the event log's reader imports it)."""

from __future__ import annotations

from typing import Any, ClassVar

from lab.record.schema import EventBody


class DrillAck(EventBody):
    kind: ClassVar[str] = "drill.ack"


class DrillNote(EventBody):
    kind: ClassVar[str] = "drill.note"
    text: str


class DrillHint(EventBody):
    kind: ClassVar[str] = "drill.hint"
    number: int
    requested: bool
    text: str


class DrillExec(EventBody):
    """A command the trainee ran through `lab exec` (reported by the command once it ended)."""

    kind: ClassVar[str] = "drill.exec"
    service: Any
    command: Any
    netns: bool
    exit_code: Any


class DrillLogs(EventBody):
    kind: ClassVar[str] = "drill.logs"
    service: Any


class DrillFixed(EventBody):
    """The drill's fault went (`t`: credited to the trainee's last action before it did), noticed at `detected_t`."""

    kind: ClassVar[str] = "drill.fixed"
    detected_t: float


class DrillRecovered(EventBody):
    kind: ClassVar[str] = "drill.recovered"


class DrillGaveUp(EventBody):
    kind: ClassVar[str] = "drill.gave_up"


class DrillEnded(EventBody):
    kind: ClassVar[str] = "drill.ended"
    outcome: str
