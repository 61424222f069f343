"""Judged on every recording with a fault: each fault held until the scenario removed it. A fault that went while
nothing of the scenario acted makes the replay something else than the incident."""

from __future__ import annotations

from lab.judge.checks.base import CheckKind, CheckResult, Judging
from lab.judge.windows import OUTSIDE

NAME = "each fault held until the scenario removed it"


def judge(_: None, judging: Judging) -> list[CheckResult]:
    faults = judging.analysis.faults
    if not faults:
        return []
    outside = [w for w in faults if w.ended_by == OUTSIDE]
    if outside:
        return [CheckResult(NAME, False, "; ".join(f"fault {w.fault} was removed from outside at t={w.end:.1f} s "
                                                   "(by nothing the scenario did)" for w in outside))]
    return [CheckResult(NAME, True, "; ".join(f"{w.fault}: until {w.ended_by} at t={w.end:.1f} s" for w in faults))]


KIND = CheckKind[None](section=None, config=None, judge=judge, order=110)
