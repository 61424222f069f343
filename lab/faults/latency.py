"""latency: the target's packets to a service are held for a fixed delay, with optional jitter, then sent: a slow
dependency, a congested link. Connections that are already open (a psycopg pool, an HTTP keep-alive) slow down as
much as new ones, which a redirect to a proxy would miss.

A helper in the target's network namespace (NET_ADMIN only) starts the delay queue (delay_queue.py in the tools
image: packets held in user space through NFQUEUE, as the kernel here has no netem) and then adds an iptables
rule sending the target's TCP packets to the destination (and port) to it. One direction only, per packet: a
query's round trip, or an HTTP request whose answer fits in one packet, takes the delay once more; a new connection
pays it once more for its handshake; a reply spread over many packets is delayed once, not per packet, since only
the target's own packets (its requests and its acknowledgements) wait.

The rule carries `--queue-bypass`: with no delay queue listening the kernel lets the packets pass. The dead-man
switch relies on both: on the lab's death the helper removes the rule and lets every held packet go; if the helper
itself is killed, the rule left behind passes everything, and verify (which checks that the queue has a listener,
in /proc/net/netfilter/nfnetlink_queue) says the fault is not in effect. A queue that fills (65,536 packets) or a
socket that overflows drops packets: verify shows the kernel's count of them.
"""

from __future__ import annotations

import zlib
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from lab.document import FieldProblem, Port, ServiceName
from lab.faults.base import FaultFamily, FaultSpec, FaultTarget, HelperPlan
from lab.faults.iptables import MARKED_RULES

HOLDER = "/usr/local/lib/outage-lab/delay_queue.py"

SCRIPT = MARKED_RULES + r"""
listening() {  # the kernel's line for our queue: number portid held copy-mode range dropped user-dropped ...
  local line; while read -r -a line; do [ "${line[0]}" = "$QUEUE" ] && { echo "${line[*]}"; return 0; }; done \
    < /proc/net/netfilter/nfnetlink_queue 2>/dev/null
  return 1
}
apply() {
  # The holder first: a rule with nobody listening lets packets pass and would look applied.
  python3 "$HOLDER" "$QUEUE" "$DELAY_MS" "$JITTER_MS" "$DISTRIBUTION" /tmp/outage-lab-delay-stats \
    </dev/null >/tmp/outage-lab-delay-out 2>&1 &
  echo $! >/tmp/outage-lab-delay-pid
  local waited=0
  until grep -q ready /tmp/outage-lab-delay-out 2>/dev/null; do
    if ! kill -0 $! 2>/dev/null || [ "$waited" -ge 200 ]; then
      echo "the delay queue did not start: $(tr '\n' ' ' </tmp/outage-lab-delay-out)"; return 2
    fi
    sleep 0.05; waited=$((waited + 1))
  done
  local -a args=(-p tcp -d "$DEST_IP")
  [ -n "$DEST_PORT" ] && args+=(--dport "$DEST_PORT")
  add_marked filter -A OUTPUT "${args[@]}" -j NFQUEUE --queue-num "$QUEUE" --queue-bypass || return 2
  echo "packets to $DEST_NAME${DEST_PORT:+:$DEST_PORT} held ${DELAY_MS} ms (jitter ${JITTER_MS} ms, $DISTRIBUTION)"
}
revert() {
  remove_marked filter; local rc=$?
  local pid; pid=$(cat /tmp/outage-lab-delay-pid 2>/dev/null)
  if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then  # it lets what it holds go, then exits
    local waited=0
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 40 ]; do sleep 0.05; waited=$((waited + 1)); done
    rc=0
  fi
  rm -f /tmp/outage-lab-delay-pid
  [ "$rc" = 0 ] && echo "packets to $DEST_NAME pass at once again"
  return $rc
}
verify() {
  show_marked filter || return 1
  local queue; if ! queue=$(listening); then
    echo "queue $QUEUE has no listener: packets pass (--queue-bypass)"; return 1
  fi
  local -a q=($queue)
  echo "queue $QUEUE: ${q[2]} held, ${q[5]} dropped (full), ${q[6]} dropped (socket);" \
       "$(cat /tmp/outage-lab-delay-stats 2>/dev/null)"
}
"""


class LatencySpec(FaultSpec):
    """The target's packets to a service are held for a delay (with jitter): open connections slow down too."""

    kind: Literal["latency"]
    peer: ClassVar[str | None] = "destination"
    destination: ServiceName = Field(description="The service whose packets are delayed.")
    port: Port | None = Field(None, description="Only packets to this port (default: every TCP port).")
    delay_ms: float = Field(gt=0, le=60_000, allow_inf_nan=False,
                            description="Added to each packet the target sends to the destination: once per "
                                        "round trip (a query, a small HTTP request).")
    jitter_ms: float = Field(0.0, ge=0, allow_inf_nan=False,
                             description="Spread of the delay: uniform within +-jitter, or its standard deviation "
                                         "(normal). Packets still leave in order.")
    distribution: Literal["uniform", "normal"] = Field("uniform", description="How the jitter is drawn.")

    @model_validator(mode="after")
    def _jitter_within_delay(self) -> LatencySpec:
        if self.jitter_ms > self.delay_ms:
            raise FieldProblem("jitter_ms", f"must be at most delay_ms ({self.delay_ms:g}), got {self.jitter_ms:g}")
        return self


def queue_number(mark: str) -> int:
    """The fault's NFQUEUE number, from its mark: two faults in one namespace get two queues."""
    return zlib.crc32(mark.encode()) % 65536


def plan(spec: LatencySpec, target: FaultTarget, mark: str) -> list[HelperPlan]:
    return [HelperPlan(
        name=spec.target, script=SCRIPT, image=target.tools_image, cap_add=("NET_ADMIN",), network_of=spec.target,
        env={"DEST_IP": target.address(spec.destination, seen_from=spec.target), "DEST_NAME": spec.destination,
             "DEST_PORT": "" if spec.port is None else str(spec.port), "QUEUE": str(queue_number(mark)),
             "DELAY_MS": f"{spec.delay_ms:g}", "JITTER_MS": f"{spec.jitter_ms:g}", "DISTRIBUTION": spec.distribution,
             "HOLDER": HOLDER},
    )]


FAMILY = FaultFamily(
    spec=LatencySpec, plan=plan,
    mechanism="iptables NFQUEUE (--queue-bypass) in the target's netns to a delay queue in user space (helper with "
              "NET_ADMIN only): each packet to the destination held for the delay, in order",
    user_sees="every round trip to the destination takes the delay longer, on open connections too; timeouts when "
              "it passes them",
    example={"kind": "latency", "target": "app-2", "destination": "db", "port": 5432, "delay_ms": 100},
)
