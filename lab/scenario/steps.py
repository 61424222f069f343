"""A timeline's steps as a scenario file writes them: the tagged union of the step kinds (lab.play.steps), for the
scenario's own timeline and a variant's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Union

from pydantic import Field

from lab.play.steps import step_kinds
from lab.play.steps.base import StepBase

if TYPE_CHECKING:
    Step = StepBase
else:  # the tagged union of the step kinds; typed by their base
    Step = Annotated[Union[step_kinds()], Field(discriminator="action")]  # noqa: UP007 - a tagged union
