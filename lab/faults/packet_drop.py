"""packet-drop: the target silently drops its TCP packets to a service, all of them or a random share (a firewall
rule gone wrong, or a lossy link).

An iptables rule in the target's network namespace, put there by a helper with NET_ADMIN only. With
`probability` below 1 the rule uses iptables' `statistic` match: each packet is dropped at random, so connects
and queries are slowed by TCP retransmissions rather than failing outright.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from lab.document import Port, ServiceName
from lab.faults.base import FaultFamily, FaultSpec, FaultTarget, HelperPlan
from lab.faults.iptables import MARKED_RULES


class PacketDropSpec(FaultSpec):
    """The target silently drops its TCP packets to a service (all, or a random share)."""

    kind: Literal["packet-drop"]
    peer: ClassVar[str | None] = "destination"
    destination: ServiceName = Field(description="The service whose packets are dropped.")
    port: Port | None = Field(None, description="Only packets to this port (default: every TCP port).")
    probability: float = Field(1.0, strict=True, gt=0, le=1,
                               description="Share of packets dropped, at random (1: all of them).")




SCRIPT = MARKED_RULES + r"""
match() {
  local -a args=(-p tcp -d "$DEST_IP")
  [ -n "$DEST_PORT" ] && args+=(--dport "$DEST_PORT")
  [ "$PROBABILITY" != 1 ] && args+=(-m statistic --mode random --probability "$PROBABILITY")
  printf '%s\n' "${args[@]}"
}
apply() { mapfile -t args < <(match); add_marked filter -A OUTPUT "${args[@]}" -j "$JUMP" $JUMP_ARGS; }
revert() { remove_marked filter; }
verify() {
  show_marked filter; local rc=$?
  [ -n "$DEST_PORT" ] && echo "path to $DEST_NAME:$DEST_PORT: $(probe_tcp "$DEST_IP" "$DEST_PORT")"
  return $rc
}
"""


def plan_rule(spec: PacketDropSpec, target: FaultTarget, mark: str, jump: str, jump_args: str = "") -> \
        list[HelperPlan]:
    """One helper in the target's network namespace adding an OUTPUT rule towards the destination."""
    return [HelperPlan(
        name=spec.target, script=SCRIPT, image=target.tools_image, cap_add=("NET_ADMIN",),
        network_of=spec.target,
        env={"DEST_IP": target.address(spec.destination, seen_from=spec.target), "DEST_NAME": spec.destination,
             "DEST_PORT": "" if spec.port is None else str(spec.port), "PROBABILITY": f"{spec.probability:g}",
             "JUMP": jump, "JUMP_ARGS": jump_args},
    )]


def plan(spec: PacketDropSpec, target: FaultTarget, mark: str) -> list[HelperPlan]:
    return plan_rule(spec, target, mark, "DROP")


FAMILY = FaultFamily(
    spec=PacketDropSpec, plan=plan,
    mechanism="iptables DROP in the target's netns (`statistic` for a random share)",
    user_sees="connects hang until the client's connect timeout; with a share, slow retransmissions",
    example={"kind": "packet-drop", "target": "app-2", "destination": "db", "port": 5432},
)
