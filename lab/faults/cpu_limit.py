"""cpu-limit: the target gets a fraction of a CPU (its container's CFS quota, as `docker update --cpus` sets it):
a starved process, as on a noisy host or after a bad resource request. Its latency rises with its work; requests
time out when the share is low enough.

A helper with the engine's socket (no network, no capability) changes the container's settings through the
engine's API, the container's labels checked before every change. It keeps the setting it found and puts it back
on revert, only if the share is still the fault's (a responder's own change is left alone). A container limited
with `--cpus` is changed with `--cpus`; one with a quota (or none), with a quota, as the engine refuses to mix
them. With no helper left to remember, revert lifts the quota (-1).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lab.faults.base import FaultFamily, FaultSpec, FaultTarget, HelperPlan
from lab.faults.engine_api import ENGINE, engine_env

PERIOD_US = 100_000
"""The CFS period the quota is a share of (the kernel's and Docker's default)."""

SCRIPT = ENGINE + r"""
settings() {  # NANO QUOTA PERIOD of the target, from the engine
  local seen; seen=$(inspect_ours) || { echo "$seen"; return 2; }
  jq -r '"\(.HostConfig.NanoCpus // 0) \(.HostConfig.CpuQuota // 0) \(.HostConfig.CpuPeriod // 0)"' <<<"$seen"
}
shown() {  # NANO QUOTA PERIOD in words
  if [ "$1" -gt 0 ]; then echo "--cpus $(awk -v n="$1" 'BEGIN { printf "%g", n / 1e9 }')"
  elif [ "$2" -gt 0 ]; then echo "quota $2 of $(positive_or "$3" "$PERIOD") us"
  else echo "no limit"; fi
}
in_effect() { [ "$1" = "$WANT_NANO" ] || { [ "$2" = "$WANT_QUOTA" ] && [ "$3" = "$PERIOD" ]; }; }
positive_or() { if [ "$1" -gt 0 ]; then echo "$1"; else echo "$2"; fi; }
set_cpu() {  # NANO QUOTA PERIOD: as --cpus when NANO > 0 (the engine refuses to mix the two ways), else a quota
  if [ "$1" -gt 0 ]; then update_ours "{\"NanoCpus\": $1}"
  else update_ours "{\"CpuPeriod\": $3, \"CpuQuota\": $2}"; fi
}
apply() {
  local now nano quota period; now=$(settings) || { echo "$now"; return 2; }
  read -r nano quota period <<<"$now"
  echo "$now" >/tmp/outage-lab-previous-cpu
  set_cpu "$([ "$nano" -gt 0 ] && echo "$WANT_NANO" || echo 0)" "$WANT_QUOTA" "$PERIOD" || return 2
  echo "cpu of $SERVICE: $(shown "$nano" "$quota" "$period") -> $CPUS of a CPU"
}
revert() {
  local now nano quota period; now=$(settings) || { echo "$now"; return 2; }
  read -r nano quota period <<<"$now"
  if ! in_effect "$nano" "$quota" "$period"; then
    echo "cpu of $SERVICE is $(shown "$nano" "$quota" "$period"), not the fault's"; return 1
  fi
  read -r nano quota period < <(cat /tmp/outage-lab-previous-cpu 2>/dev/null || echo "0 0 0")
  # No quota before: -1 lifts it (0 would mean "unchanged" to the engine).
  set_cpu "$nano" "$(positive_or "$quota" -1)" "$(positive_or "$period" "$PERIOD")" || return 2
  echo "cpu of $SERVICE back to $(shown "$nano" "$quota" "$period")"
}
verify() {
  local now nano quota period; now=$(settings) || { echo "$now"; return 2; }
  read -r nano quota period <<<"$now"
  echo "cpu of $SERVICE: $(shown "$nano" "$quota" "$period")"
  in_effect "$nano" "$quota" "$period"
}
"""


class CpuLimitSpec(FaultSpec):
    """The target gets a fraction of a CPU: its latency rises with its work, requests time out if it is low."""

    kind: Literal["cpu-limit"]
    cpus: float = Field(ge=0.01, le=256, allow_inf_nan=False,
                        description="The share of one CPU it may use (0.05: 5 ms of every 100 ms; the engine's "
                                    "least is 0.01).")


def plan(spec: CpuLimitSpec, target: FaultTarget, mark: str) -> list[HelperPlan]:
    container = target.container(spec.target)
    return [HelperPlan(
        name=spec.target, script=SCRIPT, image=target.tools_image, engine=True,
        env={**engine_env(container.id, target.run_id), "SERVICE": spec.target, "CPUS": f"{spec.cpus:g}",
             "PERIOD": str(PERIOD_US), "WANT_QUOTA": str(round(spec.cpus * PERIOD_US)),
             "WANT_NANO": str(round(spec.cpus * 1e9))},
    )]


FAMILY = FaultFamily(
    spec=CpuLimitSpec, plan=plan,
    mechanism="the container's CPU quota through the engine's API (`docker update --cpus`), from a helper with "
              "the engine's socket and no capability; the previous setting back on revert",
    user_sees="everything the target does is slower in proportion to its work; requests time out when it is low",
    example={"kind": "cpu-limit", "target": "app-2", "cpus": 0.05},
)
