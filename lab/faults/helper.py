"""The armed helper every fault family uses, and the dead-man switch that ties it to the lab process.

A helper is a short-lived container running DRIVER (bash) with the family's functions. The lab attaches to its
stdin and stdout before starting it, and speaks a line protocol:

    lab -> helper (stdin)          helper -> lab (stdout, one line each: "outage-lab-helper WORD DETAIL")
    (start)                        ready                  armed: nothing is applied yet
    apply                          applied DETAIL | apply-failed CODE DETAIL
    verify                         state CODE DETAIL      CODE 0: in effect, 1: not, other: cannot tell
    revert                         reverted DETAIL | absent DETAIL | revert-failed DETAIL
    exit                           exited requested

The helper reverts, then exits, on its own when:
  - its stdin reaches end-of-file: the lab process is gone (a SIGKILL closes its connection at once, and Docker
    closes the container's stdin with it: StdinOnce). This is the dead-man switch; it needs no host path, so it
    works with a remote Docker engine too;
  - its time-to-live runs out (counted from the apply; an armed helper leaves after its arm timeout): the second
    line of defence, should the engine keep the stream open;
  - it gets SIGTERM (`docker stop`, the reaper).
While a fault is applied, a family's `hold` function (if it has one) runs about every half second between lines.
A probe (`oneshot`) runs the same functions once in a fresh container, in the target's namespaces as they are now:
used when the helper is gone or sits in a namespace the target has left (a restarted target gets new ones).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import APIError, NotFound

from lab.errors import FaultError
from lab.faults.base import FaultTarget, HelperPlan
from lab.stack import labels
from lab.stack.attach import REPLY_TIMEOUT_S, Channel, Reply, StreamEnded, attach, remove_container
from lab.stack.reaper import DEFAULT_SOCKET, engine_socket

PREFIX = "outage-lab-helper"
NO_HEALTHCHECK = {"test": ["NONE"]}
"""A helper runs its target's image, whose health check (the database's pg_isready) is not the helper's: it would
only ever turn the helper "unhealthy" on the timeline, and cost a process every few seconds."""

DRIVER = r"""
set -u
say() { local detail=${2-}; printf '%s %s %s\n' "$PREFIX" "$1" "${detail//$'\n'/|}"; }
eval "$FAULT_SCRIPT" || { say broken "the family's script does not parse"; exit 3; }
for function in apply revert verify; do
  declare -F "$function" >/dev/null || { say broken "the family's script defines no $function"; exit 3; }
done
applied=0
# No command substitution once the trap is set: bash 5.2 runs a pending trap while it parses one, and the trap's
# own text then fails to parse, so the signal is lost or the shell exits 1 with its fault in place (fixed in 5.3).
out_file=$(mktemp) || { say broken "no temporary file (mktemp failed)"; exit 3; }
run() {  # FUNCTION in a subshell: its status in $rc, its output in $out (trailing newlines cut, as $(...) would)
  ( "$1" ) >"$out_file" 2>&1; rc=$?
  out=; IFS= read -r -d '' out <"$out_file"
  while [ "${out%$'\n'}" != "$out" ]; do out=${out%$'\n'}; done
}
now_us() { local t=${EPOCHREALTIME//[!0-9]/}; now=$((10#$t)); }  # sets $now; any locale's decimal separator
undo() {
  applied=0  # first: a SIGTERM during the revert must not revert a second time
  run revert
  case $rc in 0) say reverted "$out" ;; 1) say absent "$out" ;; *) say revert-failed "$rc $out" ;; esac
}
finish() { if [ "$applied" = 1 ]; then undo; fi; rm -f -- "$out_file"; say exited "$1"; exit 0; }
trap 'finish signal' TERM INT
if [ -n "${ONESHOT-}" ]; then
  run "$ONESHOT"
  rm -f -- "$out_file"
  say "$ONESHOT" "$rc $out"
  exit 0
fi
READ_SLICE_US=${READ_SLICE_US:-500000}  # a test shortens it, so that lines often arrive as a read times out
now_us; deadline=$(( now + ARM_TIMEOUT_S * 1000000 ))
say ready "$$"
pending=
holds=0; declare -F hold >/dev/null && holds=1
next_hold=0
while :; do
  now_us
  if [ "$applied" = 1 ] && [ "$holds" = 1 ] && [ "$now" -ge "$next_hold" ]; then
    run hold; now_us; next_hold=$(( now + 500000 ))
  fi
  left=$(( deadline - now ))
  if [ "$left" -le 0 ]; then
    if [ "$applied" = 1 ]; then finish ttl-expired; else finish arm-timeout; fi
  fi
  # At most half a second per read: a SIGTERM that lands between bash's check for signals and the wait inside
  # `read` is only handled once `read` returns, and a read until the deadline held it for the whole time-to-live
  # (1 in 100 in a unit test) while `docker stop` waited to kill the helper with its fault still applied.
  slice=$(( left < READ_SLICE_US ? left : READ_SLICE_US ))
  printf -v timeout '%d.%06d' $(( slice / 1000000 )) $(( slice % 1000000 ))
  line=
  if IFS= read -r -t "$timeout" line; then
    command=$pending$line
    pending=
  else
    [ $? -gt 128 ] || finish end-of-input  # the lab process is gone
    # Timed out (the deadline is checked at the top); a line cut by the timeout is kept for the next read. But
    # bash 5.2's `read -t` can lose the newline of a line that arrives as it times out (bench/RESULTS.md): the
    # command then waited for the next one and both went unanswered. No command is a
    # prefix of another, so a cut line that is already a whole command is one; its newline, should it still
    # come, is an empty line, skipped.
    pending+=$line
    case $pending in apply|verify|revert|exit) command=$pending; pending= ;; *) continue ;; esac
  fi
  case "$command" in
    apply)
      applied=1  # before the apply: a half-done apply is reverted too
      run apply
      if [ "$rc" = 0 ]; then now_us; deadline=$(( now + TTL_S * 1000000 )); say applied "$out"
      else say apply-failed "$rc $out"; fi ;;
    verify) run verify; say state "$rc $out" ;;
    revert) undo ;;
    exit) finish requested ;;
    "") ;;
    *) say unknown "$command" ;;
  esac
done
"""


class Helper:
    """One running helper container and the lab's channel to it."""

    def __init__(self, client: docker.DockerClient, container_id: str, channel: Channel, plan: HelperPlan,
                 namespace_pid: int | None) -> None:
        self.client = client
        self.container_id = container_id
        self.channel = channel
        self.plan = plan
        self.namespace_pid = namespace_pid
        """PID of the container whose namespaces the helper joined, when it joined them: a different PID now
        means that container was restarted and the helper sits in namespaces it has left."""

    def request(self, command: str, words: set[str], coded: bool = False) -> Reply:
        try:
            return self.channel.request(command, words, coded=coded)
        except (OSError, StreamEnded, TimeoutError) as exc:
            raise FaultError(f"helper {self.plan.name}: {exc}") from exc

    def wait_ready(self) -> None:
        try:
            reply = self.channel.reply({"ready", "broken"}, REPLY_TIMEOUT_S)
        except (OSError, StreamEnded, TimeoutError) as exc:
            raise FaultError(f"helper {self.plan.name}: {exc}") from exc
        if reply.word == "broken":
            raise FaultError(f"helper {self.plan.name}: {reply.detail}")

    def remove(self) -> None:
        self.channel.close()
        remove_container(self.client, self.container_id)


@dataclass(frozen=True)
class Placement:
    """Where a helper runs, with the target's containers looked up now (label-checked)."""

    host_config: dict[str, Any]
    namespace_pid: int | None


def placement(client: docker.DockerClient, plan: HelperPlan, target: FaultTarget, auto_remove: bool = False) -> \
        Placement:
    options: dict[str, Any] = {"cap_drop": ["ALL"], "cap_add": list(plan.cap_add),
                               "security_opt": ["no-new-privileges"], "auto_remove": auto_remove}
    namespace_pid: int | None = None
    for service, option, kind in ((plan.network_of, "network_mode", "network"),
                                  (plan.pid_namespace_of, "pid_mode", "pid")):
        if service is None:
            continue
        owner = target.container(service)
        if owner.status != "running":
            raise FaultError(f"{service} is not running: its {kind} namespace cannot be joined")
        options[option] = f"container:{owner.id}"
        namespace_pid = int(owner.attrs["State"]["Pid"])
    if plan.network is not None:
        options["network_mode"] = plan.network
    if plan.engine:
        options["binds"] = {engine_socket(): {"bind": DEFAULT_SOCKET, "mode": "rw"}}
        options.setdefault("network_mode", "none")
    if plan.volumes_of is not None:
        options["volumes_from"] = [target.container(plan.volumes_of).id]
    else:
        # An image that declares volumes (a team's database's, often) would give every helper an anonymous
        # volume, which outlives it: a tmpfs takes each one's place.
        declared = (client.api.inspect_image(plan.image).get("Config") or {}).get("Volumes") or {}
        if declared:
            options["tmpfs"] = {path: "" for path in declared}
    return Placement(client.api.create_host_config(**options), namespace_pid)


def helper_env(plan: HelperPlan, mark: str, extra: Mapping[str, str]) -> dict[str, str]:
    return {**plan.env, "FAULT_SCRIPT": plan.script, "PREFIX": PREFIX, "MARK": mark, **extra}


def start_helper(client: docker.DockerClient, plan: HelperPlan, target: FaultTarget, *, name: str, mark: str,
                 helper_labels: Mapping[str, str], arm_timeout_s: float, ttl_s: float) -> Helper:
    """Create the helper, attach to it, start it, and wait until it says it is ready (armed). Docker removes it
    once it has exited (after its revert), so a helper that reverted by itself leaves nothing behind."""
    where = placement(client, plan, target, auto_remove=True)
    env = helper_env(plan, mark, {"ARM_TIMEOUT_S": str(math.ceil(arm_timeout_s)), "TTL_S": str(math.ceil(ttl_s))})
    try:
        created = client.api.create_container(
            plan.image, [DRIVER], entrypoint=["bash", "-c"], name=name, detach=False, stdin_open=True, environment=env,
            labels=dict(helper_labels), host_config=where.host_config, user=plan.user or "", healthcheck=NO_HEALTHCHECK,
        )
    except APIError as exc:
        raise FaultError(f"cannot create helper {name}: {exc.explanation or exc}") from exc
    container_id = str(created["Id"])
    try:
        channel = attach(client, container_id, PREFIX)
        client.api.start(container_id)
        helper = Helper(client, container_id, channel, plan, where.namespace_pid)
        helper.wait_ready()
    except (APIError, FaultError) as exc:
        detail = f"{exc.explanation if isinstance(exc, APIError) else exc}{_last_output(client, container_id)}"
        _remove_quietly(client, container_id)
        raise FaultError(f"helper {name} did not start: {detail}") from exc
    return helper


def run_once(client: docker.DockerClient, plan: HelperPlan, target: FaultTarget, function: str, *, mark: str,
             probe_labels: Mapping[str, str], timeout_s: float = 60) -> Reply:
    """Run `function` (verify or revert) once in a fresh container placed as `plan` says, in the namespaces of
    the target's containers as they are now."""
    where = placement(client, plan, target)
    env = helper_env(plan, mark, {"ONESHOT": function})
    created = client.api.create_container(plan.image, [DRIVER], entrypoint=["bash", "-c"], environment=env,
                                          labels={**probe_labels, labels.PROBE: "true"},
                                          host_config=where.host_config, user=plan.user or "",
                                          healthcheck=NO_HEALTHCHECK)
    container_id = str(created["Id"])
    try:
        client.api.start(container_id)
        client.api.wait(container_id, timeout=timeout_s)
        output = client.api.logs(container_id, stdout=True, stderr=False).decode(errors="replace")
    finally:
        _remove_quietly(client, container_id)
    line = next((line for line in output.splitlines() if line.startswith(f"{PREFIX} {function} ")), None)
    if line is None:
        raise FaultError(f"probe {function} of {plan.name} said nothing: {output.strip()[-200:] or 'no output'}")
    return Reply.parse(line, coded=True)


def _remove_quietly(client: docker.DockerClient, container_id: str) -> None:
    with contextlib.suppress(NotFound, APIError):
        client.api.remove_container(container_id, force=True)


def _last_output(client: docker.DockerClient, container_id: str) -> str:
    try:
        text = client.api.logs(container_id, tail=3).decode(errors="replace").strip()
    except (NotFound, APIError):
        return ""
    return f" ({text})" if text else ""
