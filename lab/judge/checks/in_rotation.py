"""in_rotation: the load balancer kept every app replica in rotation through the fault: its health check saw
nothing (a shallow check, as in many incidents)."""

from __future__ import annotations

from pydantic import Field

from lab.document import DocumentModel, Ratio
from lab.judge.checks.base import CheckKind, CheckResult, Judging
from lab.judge.windows import LB

NAME = "the load balancer kept every replica in rotation"


class InRotationCheck(DocumentModel):
    """The load balancer kept every app replica in rotation through the fault: its health check saw nothing."""

    min_share: Ratio = Field(0.2, description="Each replica that served before the fault answered at least this "
                                              "share of the requests started during it.")


def judge(check: InRotationCheck, judging: Judging) -> list[CheckResult]:
    analysis = judging.analysis
    if analysis.steady is None or analysis.fault is None or analysis.fault.overall.requests == 0:
        return [CheckResult(NAME, False, "no steady state and fault window to compare")]
    replicas = sorted(name for name in analysis.steady.per_replica if name != LB)
    total = analysis.fault.overall.requests
    shares = {replica: (analysis.fault.per_replica[replica].requests if replica in analysis.fault.per_replica
                        else 0) / total for replica in replicas}
    low = [replica for replica, share in shares.items() if share < check.min_share]
    detail = (", ".join(f"{replica} {share:.0%}" for replica, share in shares.items())
              + f" of the requests during the fault (expected each >= {check.min_share:.0%})")
    return [CheckResult(NAME, bool(replicas) and not low,
                        detail + (f"; out of rotation: {', '.join(low)}" if low else ""))]


KIND = CheckKind[InRotationCheck](section="in_rotation", config=InRotationCheck, judge=judge, order=100)
