"""freeze: a service's processes are stopped (SIGSTOP) and resumed on revert (a stalled node that still looks
alive, as Stripe's database nodes in 2019).

A helper shares only the target's PID namespace (`--pid container:X`, capability KILL and nothing else) and
stops every process in it but its own. The kernel still completes TCP handshakes on a stopped server's listening
socket and acknowledges what is sent on open connections, so a shallow health check (a TCP connect) stays green
while queries hang. Revert sends SIGCONT to what was stopped.
"""

from __future__ import annotations

from typing import Literal

from lab.faults.base import FaultFamily, FaultSpec, FaultTarget, HelperPlan


class FreezeSpec(FaultSpec):
    """A service's processes stopped with SIGSTOP: it accepts connections but never answers."""

    kind: Literal["freeze"]


SCRIPT = r"""
# Every process of the namespace except this helper's own: the driver ($$) and whatever descends from it.
others() {
  local stat text pid rest ppid
  declare -A parent=()
  for stat in /proc/[0-9]*/stat; do
    text=$(<"$stat") 2>/dev/null || continue
    pid=${text%% *}; rest=${text##*) }
    read -r _ ppid _ <<<"$rest"
    parent[$pid]=$ppid
  done
  local -A ours=([$$]=1)
  local grew=1
  while [ $grew = 1 ]; do
    grew=0
    for pid in "${!parent[@]}"; do
      if [ -z "${ours[$pid]-}" ] && [ -n "${ours[${parent[$pid]}]-}" ]; then ours[$pid]=1; grew=1; fi
    done
  done
  for pid in "${!parent[@]}"; do [ -z "${ours[$pid]-}" ] && echo "$pid"; done
}
state_of() { local text; text=$(<"/proc/$1/stat") 2>/dev/null || return 1; text=${text##*) }; echo "${text%% *}"; }
apply() {
  local pids; pids=$(others | sort -n | tr '\n' ' ')
  [ -n "$pids" ] || { echo "no process to stop"; return 2; }
  echo "$pids" >/tmp/outage-lab-frozen
  kill -STOP $pids && echo "stopped pids $pids"
}
revert() {
  local pid found=1
  for pid in $(cat /tmp/outage-lab-frozen 2>/dev/null) $(others); do
    [ "$(state_of "$pid")" = T ] && kill -CONT "$pid" 2>/dev/null && found=0
  done
  rm -f /tmp/outage-lab-frozen
  return $found
}
verify() {
  local pid total=0 stopped=0
  for pid in $(others); do
    total=$((total + 1))
    [ "$(state_of "$pid")" = T ] && stopped=$((stopped + 1))
  done
  echo "$stopped of $total processes stopped"
  [ "$stopped" -gt 0 ]
}
"""


def plan(spec: FreezeSpec, target: FaultTarget, mark: str) -> list[HelperPlan]:
    return [HelperPlan(name=spec.target, script=SCRIPT, image=target.tools_image, cap_add=("KILL",),
                       pid_of=spec.target)]


FAMILY = FaultFamily(
    spec=FreezeSpec, plan=plan,
    mechanism="SIGSTOP to every process in the target's PID namespace (helper with KILL only); SIGCONT on revert",
    user_sees="connections open but nothing answers: requests hang until their timeouts; TCP health checks pass",
    example={"kind": "freeze", "target": "db"},
)
