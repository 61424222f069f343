"""reject: the target's connections to a service are refused at once (a TCP reset), all of them or a random
share: a firewall that rejects rather than drops, or a peer that is not listening.

An iptables REJECT rule (`--reject-with tcp-reset`) in the target's network namespace; users see fast failures
("connection refused") instead of hangs.
"""

from __future__ import annotations

from typing import Literal

from lab.faults.base import FaultFamily, FaultTarget, HelperPlan
from lab.faults.packet_drop import PacketDropSpec, plan_rule


class RejectSpec(PacketDropSpec):
    """The target's TCP connections to a service are refused at once (TCP reset)."""

    kind: Literal["reject"]  # type: ignore[assignment]  # each family narrows the kind


def plan(spec: RejectSpec, target: FaultTarget, mark: str) -> list[HelperPlan]:
    return plan_rule(spec, target, mark, "REJECT", "--reject-with tcp-reset")


FAMILY = FaultFamily(
    spec=RejectSpec, plan=plan,
    mechanism="iptables REJECT with a TCP reset in the target's netns",
    user_sees="connections refused at once: fast failures instead of hangs",
    example={"kind": "reject", "target": "app-2", "destination": "db", "port": 5432},
)
