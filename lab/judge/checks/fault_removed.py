"""fault_removed: every fault the timeline does not revert itself was removed by a responder's step (the runbook
worked: a script, a restart, a deploy such as a rollback) before the run's cleanup."""

from __future__ import annotations

from lab.document import DocumentModel
from lab.judge.checks.base import CheckKind, CheckResult, Judging
from lab.judge.windows import OUTSIDE, STILL_AT_CLEANUP

NAME = "the runbook removed the fault"
SCENARIO_STEPS = ("revert step", "runbook step", "restart step", "deploy step")
"""How a fault window ended by a step of the scenario reads (lab.judge.windows.FaultWindow.ended_by)."""


class FaultRemovedCheck(DocumentModel):
    """Every fault the timeline does not revert itself is gone before the run's cleanup: the runbook removed it."""


def judge(_: FaultRemovedCheck, judging: Judging) -> list[CheckResult]:
    analysis = judging.analysis
    left = [w for w in analysis.faults if not w.ended_by.startswith(SCENARIO_STEPS)]
    if not analysis.faults:
        return [CheckResult(NAME, False, "no fault was applied")]
    if not left:
        removed = [f"{w.fault} by {w.ended_by} (t={w.end:.1f} s)" for w in analysis.faults
                   if not w.ended_by.startswith("revert step")]
        return [CheckResult(NAME, True, "removed: " + ("; ".join(removed) or "every fault by the timeline"))]
    last_runbook = next((s for s in reversed(analysis.steps) if s["action"] == "runbook"), None)
    said = f" (last runbook step: {last_runbook['detail']})" if last_runbook else " (no runbook step ran)"
    return [CheckResult(NAME, False, "; ".join(f"fault {w.fault} {_how_it_ended(w.ended_by, w.end)}" for w in left)
                        + said)]


def _how_it_ended(ended_by: str, t: float) -> str:
    if ended_by == STILL_AT_CLEANUP:
        return "was still in effect at cleanup: the runbook did not remove it"
    if ended_by == OUTSIDE:
        return f"was removed from outside at t={t:.1f} s, not by the runbook"
    return f"lasted until the {ended_by}: nothing removed it"


KIND = CheckKind[FaultRemovedCheck](section="fault_removed", config=FaultRemovedCheck, judge=judge, order=80)
