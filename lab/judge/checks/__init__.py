"""Check kinds, found rather than listed: every module of this package that defines `KIND` (a CheckKind) is one.
A scenario's `checks:` section is made of their sections (`Checks`), and `evaluate` judges an analysis by each
kind asked for, in their order. Adding a kind is adding a module."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Any, TypeVar

from pydantic import Field, create_model, field_validator

from lab.document import DocumentModel
from lab.judge.analysis import Analysis
from lab.judge.checks.base import CheckKind, CheckResult, Judging

C = TypeVar("C")


@cache
def check_kinds() -> tuple[CheckKind[Any], ...]:
    """Every check kind, in the order the verdict lists their results."""
    found = [getattr(importlib.import_module(f"{__name__}.{module.name}"), "KIND", None)
             for module in pkgutil.iter_modules(__path__)]
    return tuple(sorted((kind for kind in found if isinstance(kind, CheckKind)), key=lambda kind: kind.order))


class ChecksBase(DocumentModel):
    """The `checks:` section: one optional field per kind that has a section (see `Checks`)."""

    @field_validator("*", mode="before")
    @classmethod
    def _bare_section_is_empty(cls, value: Any) -> Any:
        """`no_write_lost:` alone turns a check on; `false` turns it off (a variant dropping a scenario's check)."""
        if value is False:
            return None
        return {} if value is None else value

    def section(self, kind: CheckKind[C]) -> C | None:
        """What the scenario asks of `kind` (None: not asked for)."""
        assert kind.section is not None, "a kind without a section is judged on every recording"
        asked: C | None = getattr(self, kind.section)
        return asked


def _checks_model() -> type[ChecksBase]:
    sections: dict[str, Any] = {
        kind.section: (kind.config | None, Field(None, description=kind.description) if kind.description else None)
        for kind in check_kinds() if kind.section is not None}
    model: type[ChecksBase] = create_model("Checks", __base__=ChecksBase, __module__=__name__, **sections)
    return model


Checks = _checks_model()


def evaluate(analysis: Analysis, checks: ChecksBase, max_lateness_p99_s: float | None = None) -> list[CheckResult]:
    """The results of every kind the scenario asks for, and of those judged on every recording (the generator's
    lateness only when given its bound)."""
    judging = Judging(analysis, max_lateness_p99_s)
    results: list[CheckResult] = []
    for kind in check_kinds():
        asked = None if kind.section is None else checks.section(kind)
        if kind.section is None or asked is not None:
            results += kind.judge(asked, judging)
    return results


def checks_of(**sections: Any) -> ChecksBase:
    """A `checks:` section made in code, as a scenario's would be read."""
    return Checks.model_validate(sections)
