"""bandwidth: the target's egress is capped (a saturated or undersized link, such as traffic moved onto a
low-capacity network).

A token-bucket filter (`tc qdisc ... root tbf`) on the target's interface, from a helper with NET_ADMIN only.
This kernel has no `netem`, so there is no fixed delay: slowness comes from queueing. Packets wait in the
bucket's queue for up to `queue_ms`, and beyond that they are dropped, so a request that needs more than the
capped rate sees its latency grow with the backlog, then TCP retransmissions. Everything the target sends is
capped, replies to its clients included. The lab's qdisc carries its own handle; it is only installed on an
interface whose root qdisc is the kernel's default, and only a root qdisc with that handle is ever removed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lab.document import ServiceName
from lab.faults.base import FaultFamily, FaultSpec, FaultTarget, HelperPlan

HANDLE = "5ab1:"


class BandwidthSpec(FaultSpec):
    """The target's egress capped by a token bucket (queueing, not fixed delay: no netem here)."""

    kind: Literal["bandwidth"]
    rate_kbit: int = Field(strict=True, ge=8, le=10_000_000, description="The cap, in kbit/s.")
    burst_kb: int = Field(32, strict=True, ge=2, le=1_000_000, description="Bucket size, in KiB.")
    queue_ms: int = Field(400, strict=True, ge=1, le=60_000,
                          description="How long a packet may wait in the queue before it is dropped.")
    towards: ServiceName | None = Field(None, description="Cap the interface that reaches this service "
                                                          "(default: the one of the default route).")



SCRIPT = r"""
device() {
  if [ -n "$TOWARDS_IP" ]; then ip -o route get "$TOWARDS_IP" | sed -n 's/.* dev \([^ ]*\).*/\1/p'
  else ip -o route show default | sed -n 's/.* dev \([^ ]*\).*/\1/p'; fi
}
root_qdisc() { tc qdisc show dev "$1" root; }
apply() {
  local dev; dev=$(device)
  [ -n "$dev" ] || { echo "no interface found"; return 2; }
  case "$(root_qdisc "$dev")" in
    *" $HANDLE "*) return 0 ;;
    *"qdisc noqueue 0:"*|*"qdisc pfifo_fast 0:"*|*"qdisc fq_codel 0:"*|*"qdisc mq 0:"*|"") ;;
    *) echo "$dev already has a root qdisc that is not the lab's: $(root_qdisc "$dev")"; return 2 ;;
  esac
  tc qdisc add dev "$dev" root handle "$HANDLE" tbf rate "${RATE_KBIT}kbit" burst "${BURST_KB}kb" \
    latency "${QUEUE_MS}ms" && echo "$dev capped at ${RATE_KBIT} kbit/s"
}
revert() {
  local dev; dev=$(device)
  case "$(root_qdisc "$dev")" in
    *" $HANDLE "*) tc qdisc del dev "$dev" root handle "$HANDLE" ;;
    *) return 1 ;;
  esac
}
verify() {
  local dev; dev=$(device)
  local root; root=$(tc -s qdisc show dev "$dev" root | tr -s ' \n' ' ')
  echo "$dev: $root"
  case "$root" in *" $HANDLE "*) return 0 ;; *) return 1 ;; esac
}
"""


def plan(spec: BandwidthSpec, target: FaultTarget, mark: str) -> list[HelperPlan]:
    towards_ip = "" if spec.towards is None else target.address(spec.towards, seen_from=spec.target)
    return [HelperPlan(
        name=spec.target, script=SCRIPT, image=target.tools_image, cap_add=("NET_ADMIN",), network_of=spec.target,
        env={"HANDLE": HANDLE, "RATE_KBIT": str(spec.rate_kbit), "BURST_KB": str(spec.burst_kb),
             "QUEUE_MS": str(spec.queue_ms), "TOWARDS_IP": towards_ip},
    )]


FAMILY = FaultFamily(
    spec=BandwidthSpec, plan=plan,
    mechanism="`tc qdisc ... root tbf` (token bucket) on the target's interface; queueing, no netem",
    user_sees="requests slow down as the queue fills, then time out when packets overflow it",
    example={"kind": "bandwidth", "target": "db", "rate_kbit": 256},
)
