"""http-error: the load balancer itself answers a share of the requests under a path prefix with an error status
(500, 502, 503, 504, 429) or closes their connection, as a bad rule, a rate limiter set too low or an overloaded
upstream does. The app never sees those requests.

The built-in stack's HAProxy reads a map (path prefix -> answer, share, mark) on every request and answers from it
(lab/dockerfiles/lb/haproxy.cfg); the map is empty in its file. A helper in the LB's network namespace (the tools
image, no capability) adds the fault's entry through HAProxy's runtime API on the LB's loopback (`add map`): no
reload, no file changed, in effect for the next request. Revert deletes the entries that carry the fault's mark
and no other. A restarted LB starts from its empty map: the fault goes with the process, as a namespace's rule goes
with its container.

A team's load balancer has no such map and API, so the family takes only a service the stack names as the lab's
load balancer (the built-in `lb`) and refuses any other target when the scenario is validated.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lab.document import BalancerService
from lab.faults.base import FaultFamily, FaultSpec, FaultTarget, HelperPlan

API_PORT = 9999
"""The runtime API's port on the LB's loopback (haproxy.cfg's `stats socket`)."""
MAP = "/etc/haproxy/http-error.map"
SHARE_SCALE = 10_000
"""HAProxy compares `rand(10000)` with the share in ten-thousandths."""

SCRIPT = r"""
tag() { echo "${MARK//[^A-Za-z0-9_-]/-}"; }
api() {  # COMMAND: one command to HAProxy's runtime API (it answers, then closes); the answer on stdout
  { exec 3<>"/dev/tcp/127.0.0.1/$API_PORT"; } 2>/dev/null \
    || { echo "no HAProxy runtime API on 127.0.0.1:$API_PORT in $SERVICE (not the lab's load balancer?)"; return 2; }
  printf '%s\n' "$1" >&3
  timeout 5 cat <&3
}
entries() { api "show map $MAP"; }  # one line per entry: "REFERENCE KEY VALUE"
ours() {  # ENTRIES: those that carry this fault's mark (status 1: none)
  grep -F -- ":$(tag)" <<<"$1" || { echo "no entry of this fault in $MAP"; return 1; }
}
apply() {
  local seen; seen=$(entries) || { echo "$seen"; return 2; }
  if ours "$seen" >/dev/null; then echo "already in place"; return 0; fi
  if awk -v prefix="$PREFIX_PATH" '$2 == prefix { found = 1 } END { exit !found }' <<<"$seen"; then
    echo "another http-error fault is on path prefix $PREFIX_PATH"; return 2
  fi
  local said; said=$(api "add map $MAP $PREFIX_PATH $ANSWER:$SHARE:$(tag)") || { echo "$said"; return 2; }
  [ -z "${said//[[:space:]]/}" ] || { echo "HAProxy refused the entry: $said"; return 2; }
  echo "$SERVICE answers $ANSWER to $SHARE of every $SCALE requests under $PREFIX_PATH"
}
revert() {
  local seen found reference; seen=$(entries) || { echo "$seen"; return 2; }
  found=$(ours "$seen") || { echo "$found"; return 1; }
  while read -r reference _; do
    api "del map $MAP #$reference" >/dev/null || return 2
  done <<<"$found"
  echo "entry removed from $MAP: $SERVICE passes requests under $PREFIX_PATH to the apps again"
}
verify() {
  local seen found; seen=$(entries) || { echo "$seen"; return 2; }
  found=$(ours "$seen") || { echo "$found"; return 1; }
  echo "$MAP: ${found#* }"
}
"""


class HttpErrorSpec(FaultSpec):
    """The load balancer answers a share of the requests under a path prefix itself: an error status, or a closed
    connection."""

    kind: Literal["http-error"]
    target: BalancerService = Field(description="The lab's HAProxy load balancer (the built-in stack's `lb`).")
    response: Literal[500, 502, 503, 504, 429, "close"] = Field(
        503, description="The status the load balancer answers with, or `close`: the connection is closed unanswered.")
    share: float = Field(strict=True, gt=0, le=1, description="The share of matching requests answered so (0 < share "
                                                              "<= 1), each request drawn at random.")
    path_prefix: str = Field("/", pattern=r"^/[A-Za-z0-9/_.~-]{0,200}$",
                             description="Only requests whose path starts with this are answered (default: all).")


def plan(spec: HttpErrorSpec, target: FaultTarget, mark: str) -> list[HelperPlan]:
    share = max(1, round(spec.share * SHARE_SCALE))
    return [HelperPlan(name=spec.target, script=SCRIPT, image=target.tools_image, network_of=spec.target,
                       env={"SERVICE": spec.target, "API_PORT": str(API_PORT), "MAP": MAP, "ANSWER": str(spec.response),
                            "SHARE": str(share), "SCALE": str(SHARE_SCALE), "PREFIX_PATH": spec.path_prefix})]


FAMILY = FaultFamily(
    spec=HttpErrorSpec, plan=plan,
    mechanism="an entry in the built-in HAProxy's map through its runtime API (`add map`, no reload) from a helper "
              "in the LB's network namespace; HAProxy answers the share itself (`http-request return`/`reject`)",
    user_sees="that share of requests answered with the status by the load balancer (no X-Served-By), or their "
              "connection closed unanswered; the apps never see them",
    example={"kind": "http-error", "target": "lb", "share": 0.3, "response": 503},
)
