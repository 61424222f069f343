"""blackhole-route: a route in the target's network namespace swallows its traffic to a service (a routing change
gone wrong, a leaked or withdrawn route).

`ip route add blackhole|unreachable|prohibit ADDRESS/32` from a helper with NET_ADMIN only. The host route is
more specific than the network's own, so it wins. `blackhole` drops silently (connects hang until their
timeout); `unreachable` and `prohibit` answer at once (EHOSTUNREACH, EACCES: "No route to host", "Permission
denied"). The route is marked with its own protocol number, and only routes carrying it are removed.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from lab.document import ServiceName
from lab.faults.base import FaultFamily, FaultSpec, FaultTarget, HelperPlan

ROUTE_PROTOCOL = "209"
"""The `proto` number the lab's routes carry (unassigned by IANA's and iproute2's tables)."""


class BlackholeRouteSpec(FaultSpec):
    """A route in the target swallows (or refuses) its traffic to a service."""

    kind: Literal["blackhole-route"]
    peer: ClassVar[str | None] = "destination"
    destination: ServiceName = Field(description="The service whose address the route captures.")
    route_type: Literal["blackhole", "unreachable", "prohibit"] = Field(
        "blackhole", description="blackhole: silent drop; unreachable / prohibit: an immediate error.")




SCRIPT = r"""
ours() { ip route show proto "$ROUTE_PROTOCOL"; }
apply() { ip route add "$ROUTE_TYPE" "$DEST_IP/32" proto "$ROUTE_PROTOCOL"; }
revert() {
  local found=1 route
  while IFS= read -r route; do
    [ -n "$route" ] || continue
    read -ra args <<<"$route"
    ip route del "${args[@]}" proto "$ROUTE_PROTOCOL" && found=0
  done < <(ours)
  return $found
}
verify() {
  local routes; routes=$(ours)
  echo "${routes:-no route of the lab}; route to $DEST_NAME: $(ip route get "$DEST_IP" 2>&1 | head -n 1)"
  [ -n "$routes" ]
}
"""


def plan(spec: BlackholeRouteSpec, target: FaultTarget, mark: str) -> list[HelperPlan]:
    return [HelperPlan(
        name=spec.target, script=SCRIPT, image=target.tools_image, cap_add=("NET_ADMIN",), network_of=spec.target,
        env={"DEST_IP": target.address(spec.destination, seen_from=spec.target), "DEST_NAME": spec.destination,
             "ROUTE_TYPE": spec.route_type, "ROUTE_PROTOCOL": ROUTE_PROTOCOL},
    )]


FAMILY = FaultFamily(
    spec=BlackholeRouteSpec, plan=plan,
    mechanism="`ip route add blackhole|unreachable|prohibit` for the destination in the target's netns",
    user_sees="blackhole: connects hang until their timeout; unreachable: an immediate 'No route to host'",
    example={"kind": "blackhole-route", "target": "app-2", "destination": "db", "route_type": "unreachable"},
)
