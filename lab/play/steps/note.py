"""note: a line on the timeline, something people did or learnt."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from lab.play.steps.base import StepBase


class NoteStep(StepBase):
    """A line on the timeline: something people did or learnt."""

    action: Literal["note"]
    order: ClassVar[int] = 10
    text: str = Field(min_length=1, description="What happened.")
    in_runbook: ClassVar[bool] = True
