"""partition: two groups of services cannot reach each other, in either direction (a network partition, such as
GitHub's 43 s between the coasts in 2018).

Every member of the target's side drops all IP traffic to and from every member of the other side (iptables
DROP in INPUT and OUTPUT of its network namespace, one helper per member, NET_ADMIN only). Connections across
hang, then time out; established ones stall until TCP gives up on them. Services on the same side, and services
in neither group, are untouched.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from lab.document import FieldProblem, ServiceName
from lab.faults.base import FaultFamily, FaultSpec, FaultTarget, HelperPlan
from lab.faults.iptables import MARKED_RULES


class PartitionSpec(FaultSpec):
    """Two groups of services cannot reach each other, both directions."""

    kind: Literal["partition"]
    with_: tuple[ServiceName, ...] = Field((), alias="with",
                                           description="Services on the target's side too (default: none).")
    apart_from: tuple[ServiceName, ...] = Field(min_length=1, description="The services on the other side.")

    @model_validator(mode="after")
    def _sides_are_apart(self) -> PartitionSpec:
        side = {self.target, *self.with_}
        both = sorted(side & set(self.apart_from))
        if both:
            raise FieldProblem("apart_from", f"names services on the target's side too: {', '.join(both)}")
        return self



SCRIPT = MARKED_RULES + r"""
apply() {
  local address
  for address in $PEERS; do
    add_marked filter -A OUTPUT -d "$address" -j DROP && add_marked filter -A INPUT -s "$address" -j DROP || return
  done
}
revert() { remove_marked filter; }
verify() { show_marked filter; }
"""


def plan(spec: PartitionSpec, target: FaultTarget, mark: str) -> list[HelperPlan]:
    helpers = []
    for member in (spec.target, *spec.with_):
        peers = " ".join(target.address(peer, seen_from=member) for peer in spec.apart_from)
        helpers.append(HelperPlan(name=member, script=SCRIPT, image=target.tools_image, cap_add=("NET_ADMIN",),
                                  network_of=member, env={"PEERS": peers}))
    return helpers


FAMILY = FaultFamily(
    spec=PartitionSpec, plan=plan,
    mechanism="iptables DROP both ways (INPUT and OUTPUT) in every netns of the target's side",
    user_sees="requests that cross the partition hang until their timeouts; open connections stall",
    example={"kind": "partition", "target": "db", "apart_from": ["app-1", "app-2", "app-3"]},
)
