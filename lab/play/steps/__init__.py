"""Timeline step kinds, found rather than listed: every module of this package that defines a StepBase subclass is
one (its `action` Literal names it). Adding a kind is adding a module."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Literal, get_args, get_origin

from lab.play.steps.base import StepBase


@cache
def step_kinds() -> tuple[type[StepBase], ...]:
    """Every step kind, in their declared order."""
    found: list[type[StepBase]] = []
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        found += [kind for kind in vars(module).values() if isinstance(kind, type) and issubclass(kind, StepBase)
                  and kind.__module__ == module.__name__ and _named(kind)]
    return tuple(sorted(found, key=lambda kind: kind.order))


def _named(kind: type[StepBase]) -> bool:
    """A kind names its action with a Literal; a base it builds on does not."""
    return get_origin(kind.model_fields["action"].annotation) is Literal


def action_of(kind: type[StepBase]) -> str:
    """The kind's name, as its `action: Literal["..."]` says."""
    return str(get_args(kind.model_fields["action"].annotation)[0])
