"""dns-misdirect: the target resolves a name wrongly, NXDOMAIN or a wrong address, while every other service
resolves it correctly (a bad DNS change, an empty zone behind one of several name servers).

Docker's embedded DNS answers a container at 127.0.0.11. A helper in the target's network namespace (NET_ADMIN;
SETUID and SETGID so that dnsmasq can drop to `nobody`) starts dnsmasq on 127.0.0.1:5353, answering `name`
wrongly and forwarding every other question to Docker's own resolver, and puts a DNAT rule in front of Docker's:
the target's DNS questions go to dnsmasq. Only the target is affected; a revert deletes the marked rules.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator

from lab.faults.base import FaultFamily, FaultSpec, FaultTarget, HelperPlan
from lab.faults.iptables import MARKED_RULES
from lab.stack.knobs import StackKnobs

RENEWED_CONNECTION_USED_S = 1.0
"""A pooled connection past its lifetime is only replaced when a request has used it once more: at 20 requests per
second (the library's rate) each of a replica's few idle connections is used several times a second."""


class DnsMisdirectSpec(FaultSpec):
    """The target resolves a name to NXDOMAIN or to a wrong address; other services resolve it correctly."""

    kind: Literal["dns-misdirect"]
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]*$",
                      description="The name answered wrongly (and the names under it), e.g. a service name: db.")
    answer: str = Field("nxdomain", description="nxdomain, or the IPv4 address to answer with.")

    @field_validator("answer")
    @classmethod
    def _answer_shape(cls, value: str) -> str:
        if value != "nxdomain":
            try:
                ipaddress.IPv4Address(value)
            except ValueError:
                raise ValueError(f"must be nxdomain or an IPv4 address, got {value!r}") from None
        return value

    def onset_s(self, knobs: StackKnobs) -> float:
        """The apps resolve the name when they open a connection: the ones open at the apply keep working until
        the pool renews them, at most their lifetime later, on their next use."""
        return knobs.app_pool_max_lifetime_s + RENEWED_CONNECTION_USED_S


SCRIPT = MARKED_RULES + r"""
docker_dns_port() {
  "$IPT" -w -t nat -S DOCKER_OUTPUT 2>/dev/null \
    | sed -n 's/.*-p udp .*--to-destination 127\.0\.0\.11:\([0-9]*\).*/\1/p' | head -n 1
}
apply() {
  local port; port=$(docker_dns_port)
  if [ -z "$port" ]; then
    echo "no Docker DNS rules (DOCKER_OUTPUT) in the nat table: is the target on a user-defined network?"
    return 2
  fi
  local -a answer=(--local="/$NAME/")
  [ "$ANSWER" != nxdomain ] && answer=(--address="/$NAME/$ANSWER")
  dnsmasq --no-resolv --no-hosts --listen-address=127.0.0.1 --port=5353 --bind-interfaces \
    --server="127.0.0.11#$port" "${answer[@]}" --pid-file=/tmp/outage-lab-dnsmasq.pid || return 2
  local proto
  for proto in udp tcp; do
    add_marked nat -I OUTPUT -d 127.0.0.11/32 -p "$proto" --dport 53 -j DNAT --to-destination 127.0.0.1:5353 || return 2
  done
  echo "$NAME answered with $ANSWER for this service only"
}
revert() {
  remove_marked nat; local rc=$?
  [ -f /tmp/outage-lab-dnsmasq.pid ] && kill "$(cat /tmp/outage-lab-dnsmasq.pid)" 2>/dev/null
  rm -f /tmp/outage-lab-dnsmasq.pid
  return $rc
}
verify() {
  show_marked nat >/dev/null; local rc=$?
  echo "$NAME resolves to: $(getent ahostsv4 "$NAME" | awk '{print $1; exit}' | grep . || echo NXDOMAIN)"
  return $rc
}
"""


def plan(spec: DnsMisdirectSpec, target: FaultTarget, mark: str) -> list[HelperPlan]:
    return [HelperPlan(
        name=spec.target, script=SCRIPT, image=target.tools_image, cap_add=("NET_ADMIN", "SETUID", "SETGID"),
        network_of=spec.target, env={"NAME": spec.name, "ANSWER": spec.answer},
    )]


FAMILY = FaultFamily(
    spec=DnsMisdirectSpec, plan=plan,
    mechanism="dnsmasq in the target's netns answers the name wrongly; a DNAT rule sends its DNS questions there",
    user_sees="connections to the name fail fast: 'could not translate host name ... Name or service not known'",
    example={"kind": "dns-misdirect", "target": "app-2", "name": "db"},
)
