"""memory-limit: the target's memory limit lowered below what it uses, so the kernel's OOM killer ends it (Docker
records OOMKilled and an `oom` event); with a restart policy it comes back under the same limit and is killed
again, a crash loop, until the limit is raised.

A helper with the engine's socket (no network, no capability) changes the container's limit through the engine's
API, its labels checked before every change. Under cgroup v1 the kernel refuses a limit below the memory a
container holds now ("unable to set memory limit ... current usage"); the helper then sets the lowest it takes,
that usage, and every half second (`hold`) lowers it again toward the fault's limit as far as the kernel takes:
the container's next allocation past it is killed, a restarted process holds less, so the limit follows it down
until it is the fault's own and each restart is killed. Under cgroup v2 the first request takes and the kill is
at once.

With `stay_down`, the target's restart policy is set to "no" as well, and a killed target stays down until someone
starts it, as a service without a supervisor does (OBS's Rails in 2020, back only when restarted); revert puts the
policy back first, whatever became of the limit (a probe, which did not see it, puts back unless-stopped).

Revert puts back the limit the helper found, only if the limit is still the fault's (a responder's own change is
left alone). The engine's API cannot take a limit away again once set (0 means "unchanged" and -1 is refused), so
"no limit" comes back as a limit of the engine host's whole memory (and swap of twice that), which is what no limit
means on that host.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lab.faults.base import FaultFamily, FaultSpec, FaultTarget, HelperPlan
from lab.faults.engine_api import ENGINE, engine_env

MIB = 1024 * 1024

SCRIPT = ENGINE + r"""
limits() {  # MEMORY SWAP of the target, from the engine (0: none)
  local seen; seen=$(inspect_ours) || { echo "$seen"; return 2; }
  jq -r '"\(.HostConfig.Memory // 0) \(.HostConfig.MemorySwap // 0)"' <<<"$seen"
}
mib() { if [ "$1" -gt 0 ]; then echo "$(( $1 / 1048576 )) MiB"; else echo "no limit"; fi; }
set_limit() { update_ours "{\"Memory\": $1, \"MemorySwap\": ${2:-$1}}"; }
ours() {  # MEMORY: a limit this fault set (its own, or the lowest the kernel took on the way to it)
  [ "$1" = "$LIMIT" ] || [ "$1" = "$(cat /tmp/outage-lab-interim 2>/dev/null)" ]
}
lower() {  # [NOW]: the limit as far down toward the fault's as the kernel takes now (never above NOW); says it
  local said usage
  if said=$(set_limit "$LIMIT"); then rm -f /tmp/outage-lab-interim; echo "$LIMIT"; return 0; fi
  usage=$(grep -o 'current usage: [0-9]*' <<<"$said") || { echo "$said"; return 2; }
  usage=$(( (${usage##* } / 1048576 + 1) * 1048576 ))
  if [ -z "${1-}" ] || [ "$usage" -lt "$1" ]; then
    set_limit "$usage" || return 2
    echo "$usage" >/tmp/outage-lab-interim
  fi
  echo "$usage"
}
keep_down() {  # the restart policy "no", the one it had kept for revert
  local seen; seen=$(inspect_ours) || { echo "$seen"; return 2; }
  jq -c '.HostConfig.RestartPolicy // {"Name": "no"}' <<<"$seen" >/tmp/outage-lab-previous-restart
  update_ours '{"RestartPolicy": {"Name": "no"}}' || return 2
  echo "; restart policy of $SERVICE: $(jq -r .Name /tmp/outage-lab-previous-restart) -> no (it stays down once killed)"
}
apply() {
  local now memory swap set down=; now=$(limits) || { echo "$now"; return 2; }
  read -r memory swap <<<"$now"
  echo "$now" >/tmp/outage-lab-previous-memory
  if [ "$STAY_DOWN" = 1 ]; then down=$(keep_down) || { echo "$down"; return 2; }; fi
  set=$(lower) || { echo "$set"; return 2; }
  if [ "$set" = "$LIMIT" ]; then echo "memory limit of $SERVICE: $(mib "$memory") -> $(mib "$LIMIT")$down"
  else echo "memory limit of $SERVICE: $(mib "$memory") -> $(mib "$set"), what it holds now (the least the kernel" \
            "takes), lowered toward $(mib "$LIMIT") as it can$down"; fi
}
hold() {  # cgroup v1: lower the limit again whenever the kernel takes it (the target restarted, or reclaimed)
  local now memory swap; now=$(limits) || return 0
  read -r memory swap <<<"$now"
  if [ "$memory" != "$LIMIT" ] && ours "$memory"; then lower "$memory" >/dev/null; fi
}
revert() {
  local now memory swap policy
  if [ "$STAY_DOWN" = 1 ]; then
    # A probe (the helper that saw the policy is gone) cannot know it: unless-stopped brings a killed target back.
    policy=$(cat /tmp/outage-lab-previous-restart 2>/dev/null || echo '{"Name": "unless-stopped"}')
    update_ours "{\"RestartPolicy\": $policy}" || return 2
    rm -f /tmp/outage-lab-previous-restart
  fi
  now=$(limits) || { echo "$now"; return 2; }
  read -r memory swap <<<"$now"
  ours "$memory" || { echo "memory limit of $SERVICE is $(mib "$memory"), not the fault's"; return 1; }
  read -r memory swap < <(cat /tmp/outage-lab-previous-memory 2>/dev/null || echo "0 0")
  local shown="$(mib "$memory")"
  if [ "$memory" -le 0 ]; then
    memory=$(engine GET /info | jq -r '.MemTotal') || { echo "$memory"; return 2; }
    shown="none (the engine host's $(mib "$memory"): the engine cannot unset a limit)"
  fi
  # Swap as it was, or twice the memory as `docker run --memory` gives: runc raises the swap limit first only when
  # it is given one, and the kernel refuses a memory limit above the swap limit in place.
  [ "$swap" -gt 0 ] || swap=$(( memory * 2 ))
  set_limit "$memory" "$swap" || return 2
  rm -f /tmp/outage-lab-interim
  echo "memory limit of $SERVICE back to $shown"
}
verify() {
  local seen memory; seen=$(inspect_ours) || { echo "$seen"; return 2; }
  memory=$(jq -r '.HostConfig.Memory // 0' <<<"$seen")
  echo "memory limit of $SERVICE: $(mib "$memory");" \
       "$(jq -r '"\(.State.Status), OOMKilled \(.State.OOMKilled), restarts \(.RestartCount)"' <<<"$seen")"
  ours "$memory"
}
"""


class MemoryLimitSpec(FaultSpec):
    """The target's memory limit lowered below what it uses: the OOM killer ends it, and again at each restart."""

    kind: Literal["memory-limit"]
    limit_mib: int = Field(strict=True, ge=6, le=1_048_576,
                           description="The new limit in MiB (swap included: none beyond it); the engine's least is 6.")
    stay_down: bool = Field(False, description="Once killed, the target stays down until someone starts it (its "
                                               "restart policy set to no while the fault holds); otherwise its restart "
                                               "policy brings it back, to be killed again: a crash loop.")


def plan(spec: MemoryLimitSpec, target: FaultTarget, mark: str) -> list[HelperPlan]:
    container = target.container(spec.target)
    return [HelperPlan(
        name=spec.target, script=SCRIPT, image=target.tools_image, engine=True,
        env={**engine_env(container.id, target.run_id), "SERVICE": spec.target, "LIMIT": str(spec.limit_mib * MIB),
             "STAY_DOWN": "1" if spec.stay_down else "0"},
    )]


FAMILY = FaultFamily(
    spec=MemoryLimitSpec, plan=plan,
    mechanism="the container's memory limit through the engine's API (`docker update --memory`), from a helper "
              "with the engine's socket and no capability; the previous limit back on revert",
    user_sees="the target is OOM-killed (exit 137, OOMKilled): its connections reset, then refused while it is "
              "down; with a restart policy it crash-loops (with stay_down it stays down until started)",
    example={"kind": "memory-limit", "target": "app-2", "limit_mib": 16},
)
