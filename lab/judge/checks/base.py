"""What a check kind is: the section of a scenario's `checks:` that asks for it (its model), and how it judges the
analysis of a recording. A kind is one module of this package defining `KIND`; the registry (the package) builds
the `checks:` section from them and evaluates them in their order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from lab.judge.analysis import Analysis

C = TypeVar("C")


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str
    of_recording: bool = False
    """Judges the recording itself, not the system: failing it makes the run unreliable rather than failed."""


@dataclass(frozen=True)
class Judging:
    """What every check is judged on: the analysis of a recording, and the lateness its traffic allowed the load
    generator (None: not judged)."""

    analysis: Analysis
    max_lateness_p99_s: float | None = None


@dataclass(frozen=True)
class CheckKind(Generic[C]):
    section: str | None
    """Its key under `checks:`; None: judged on every recording that has what it judges."""
    config: Any
    """The type of the section's value (a model, or a tuple of them); None for a kind without a section."""
    judge: Callable[[C, Judging], list[CheckResult]]
    """The results it gives (none when the recording has nothing it judges)."""
    order: int
    """Where its results stand in the verdict's list."""
    description: str = ""
