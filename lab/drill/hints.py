"""A drill's hints: released on the trainee's request (`lab hint`) or by themselves some time after the fault
lands, in order, each recorded (`drill.hint`) and counted in the debrief."""

from __future__ import annotations

import threading

from lab.record.drill_schema import DrillHint
from lab.record.events import EventLog
from lab.scenario.drill import Hint


class Hints:
    def __init__(self, hints: tuple[Hint, ...]) -> None:
        self.hints = hints
        self.released = 0
        self._lock = threading.Lock()

    def release(self, log: EventLog, requested: bool) -> str:
        """The next hint, recorded; "no more hints" when all are out."""
        with self._lock:
            if self.released >= len(self.hints):
                return "no more hints"
            hint = self.hints[self.released]
            self.released += 1
            number = self.released
        log.emit(DrillHint(number=number, requested=requested, text=hint.text))
        return f"hint {number}/{len(self.hints)}: {hint.text}"

    def due(self, since_fault_s: float) -> bool:
        """The next hint is one released by itself, and its time has come."""
        with self._lock:
            if self.released >= len(self.hints):
                return False
            after_s = self.hints[self.released].after_s
        return after_s is not None and since_fault_s >= after_s
