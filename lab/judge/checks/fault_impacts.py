"""fault_impacts: impact checks of single fault windows, each naming its fault: an incident in phases."""

from __future__ import annotations

from lab.judge.checks.base import CheckKind, CheckResult, Judging
from lab.judge.checks.impact import ImpactCheck, impact_result


def judge(checks: tuple[ImpactCheck, ...], judging: Judging) -> list[CheckResult]:
    return [impact_result(judging.analysis, check) for check in checks]


KIND = CheckKind[tuple[ImpactCheck, ...]](
    section="fault_impacts", config=tuple[ImpactCheck, ...], judge=judge, order=40,
    description="Impact checks of single fault windows, each naming its `fault`: an incident in phases.")
