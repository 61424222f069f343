"""A scenario's variants: corrective measures, proven. The same incident on a stack changed as the measure says (or
played as the measure would have it: its own timeline), judged by the checks the measure must pass."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from lab.document import DocumentModel
from lab.judge.checks import Checks, ChecksBase
from lab.scenario.names import VariantName
from lab.scenario.observe import ObserveSpec
from lab.scenario.retry import RetrySpec
from lab.scenario.steps import Step
from lab.stack.knobs import KnobChanges

if TYPE_CHECKING:
    ChecksSection = ChecksBase
else:  # the model built from the check kinds; typed by its base
    ChecksSection = Checks


class Variant(DocumentModel):
    """A corrective measure, proven: the same incident on a stack changed as the measure says."""

    name: VariantName = Field(description="`lab run SCENARIO --variant NAME`.")
    measure: str = Field(min_length=1, description="The corrective measure it proves, in the postmortem's words.")
    knobs: KnobChanges = Field(default_factory=KnobChanges, description="What the measure changes in the stack.")
    checks: ChecksSection | None = Field(None, description=(
        "Check sections that replace the scenario's for this variant (what the measure must achieve); a section "
        "given as `false` is not judged for it (a check the measure makes moot, such as the detection of an impact "
        "it contains)."))
    timeline: Annotated[tuple[Step, ...], Field(min_length=1)] | None = Field(None, description=(
        "The incident played as the measure would have it (a change rolled out behind a health gate rather than at "
        "once), in place of the scenario's timeline; checked as the scenario's is."))
    observe: ObserveSpec | None = Field(None, description="Prometheus and its alerting rules for this variant, in "
                                                          "place of the scenario's `observe:`.")
    retry: RetrySpec | None = Field(None, description="The users' retry policy the measure gives their clients "
                                                      "(backoff, jitter, a budget), in place of the scenario's.")
