"""Fault families, found rather than listed: every module of this package that defines `FAMILY` is one, and so is
every `outage_lab.faults` entry point of another installed package (a FaultFamily object). Adding a family is
adding a module; nothing else names it."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from importlib.metadata import entry_points

from lab.errors import InvalidInput
from lab.faults.base import FaultFamily, FaultHandle, FaultSpec, FaultState, FaultTarget, HelperPlan
from lab.faults.fault import Fault

ENTRY_POINT_GROUP = "outage_lab.faults"


@cache
def families() -> dict[str, FaultFamily]:
    """kind -> family, the package's own first, then plugins (a plugin cannot replace a built-in kind)."""
    found: dict[str, FaultFamily] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        family = getattr(importlib.import_module(f"{__name__}.{module_info.name}"), "FAMILY", None)
        if isinstance(family, FaultFamily):
            found[family.kind] = family
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            family = entry.load()
        except Exception as exc:  # a broken plugin must not break the lab: say which one
            raise InvalidInput(f"fault plugin {entry.name} ({entry.value}) cannot be loaded: {exc}") from exc
        if not isinstance(family, FaultFamily):
            raise InvalidInput(f"fault plugin {entry.name} ({entry.value}) is not a lab.faults.FaultFamily")
        found.setdefault(family.kind, family)
    return found


def family_of(spec: FaultSpec) -> FaultFamily:
    return families()[spec.kind]


def build_fault(spec: FaultSpec, target: FaultTarget, ttl_s: float) -> FaultHandle:
    family = family_of(spec)
    if family.build is not None:
        return family.build(spec, target)
    return Fault(spec, family, target, ttl_s)


__all__ = ["Fault", "FaultFamily", "FaultHandle", "FaultSpec", "FaultState", "FaultTarget", "HelperPlan", "build_fault",
           "families", "family_of"]
