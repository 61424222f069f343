"""packet-drop: the target silently drops its TCP packets to one service (a firewall rule gone wrong).

The rule is put in place by a helper container that joins the target's network namespace with NET_ADMIN only.
The helper is the fault's time-to-live on the Docker side: it removes its rule when it is stopped (SIGTERM) and
by itself when its TTL runs out, so a runner killed with SIGKILL cannot leave the rule behind. The rule carries a
comment naming the run and fault, and only a rule with that comment is ever deleted.
"""

from __future__ import annotations

import time
from typing import Any

from docker.errors import APIError, NotFound
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from lab import labels
from lab.errors import FaultError
from lab.faults.base import FaultContext, FaultState
from lab.netns import run_tool
from lab.scenario import FaultSpec

# POSIX sh as PID 1 of the helper. It starts armed (prepared ahead of the fault's offset) and applies its rule on
# SIGUSR1; an armed helper that never gets the signal leaves after ARM_TIMEOUT without touching anything. `wait`
# on a background sleep lets the traps run at once. The TTL counts from the moment the rule is in place.
HELPER_SCRIPT = r"""
rule="OUTPUT -p tcp -d $DEST_IP --dport $DEST_PORT -m comment --comment $MARK -j DROP"
go=0
trap 'go=1' USR1
trap 'echo disarmed; exit 0' TERM INT
echo armed
sleep "$ARM_TIMEOUT" & wait $!
[ "$go" = 1 ] || { echo arm-timeout; exit 0; }
revert() { if iptables -D $rule 2>/dev/null; then echo reverted; else echo absent; fi; exit 0; }
trap revert TERM INT
iptables -A $rule || exit 1
echo applied
sleep "$TTL" & wait $!
echo ttl-expired
revert
"""
PROBE_TIMEOUT_S = 0.5
NAMESPACE_GONE = "its network namespace, and the rule in it, went when it stopped"


class HelperNotReady(Exception):
    """The helper has not reported yet; retried until its deadline."""


class PacketDrop:
    def __init__(self, spec: FaultSpec, context: FaultContext, ttl_s: float) -> None:
        self.spec = spec
        self.context = context
        self.ttl_s = ttl_s
        self.mark = f"outage-lab:{context.run_id}:{spec.id}"
        self.helper_name = f"{context.project}-fault-{spec.id}"
        self._destination_ip: str | None = None
        self._target_id: str | None = None

    def rule(self) -> list[str]:
        """The iptables rule (without the -A/-D verb), marked with this run and fault."""
        return ["OUTPUT", "-p", "tcp", "-d", self.destination_ip(), "--dport", str(self.spec.port),
                "-m", "comment", "--comment", self.mark, "-j", "DROP"]

    def destination_ip(self) -> str:
        """The destination's address on a network it shares with the target (resolved once, at apply)."""
        if self._destination_ip is None:
            target = self.context.containers(self.spec.target)
            destination = self.context.containers(self.spec.destination)
            self._target_id = target.id
            target_networks = target.attrs["NetworkSettings"]["Networks"]
            for name, settings in destination.attrs["NetworkSettings"]["Networks"].items():
                if name in target_networks and settings.get("IPAddress"):
                    self._destination_ip = str(settings["IPAddress"])
                    break
            else:
                raise FaultError(f"{self.spec.target} and {self.spec.destination} share no network")
        return self._destination_ip

    def prepare(self, arm_timeout_s: float) -> None:
        """Start the helper armed, before the fault's offset: at the offset only a signal remains to send."""
        if self._helper() is not None:
            return
        destination_ip = self.destination_ip()
        client = self.context.client
        helper_labels = {**labels.run_labels(self.context.run_id, labels.ROLE_FAULT),
                         labels.EXPIRES: str(int(time.time() + arm_timeout_s + self.ttl_s)),
                         "outage-lab.fault": self.spec.id}
        try:
            helper = client.containers.run(
                self.context.tools_image, ["sh", "-c", HELPER_SCRIPT], name=self.helper_name, detach=True,
                network_mode=f"container:{self._target_id}", cap_drop=["ALL"], cap_add=["NET_ADMIN"],
                security_opt=["no-new-privileges"], labels=helper_labels,
                environment={"DEST_IP": destination_ip, "DEST_PORT": str(self.spec.port), "MARK": self.mark,
                             "TTL": str(int(self.ttl_s)), "ARM_TIMEOUT": str(int(arm_timeout_s))},
            )
        except APIError as exc:
            raise FaultError(f"cannot start the {self.spec.id} helper: {exc.explanation or exc}") from exc
        self._wait_for(helper, "armed")

    def apply(self) -> None:
        self.prepare(arm_timeout_s=60)  # no-op when the runner prepared it ahead of time
        helper = self._helper()
        if helper is None:
            raise FaultError(f"fault {self.spec.id}: its helper disappeared before the fault's offset")
        helper.kill(signal="SIGUSR1")
        self._wait_for(helper, "applied")

    def _wait_for(self, helper: Any, word: str) -> None:
        retrying = Retrying(stop=stop_after_delay(15), wait=wait_fixed(0.005),
                            retry=retry_if_exception_type(HelperNotReady), reraise=True)
        try:
            retrying(self._check_helper_said, helper, word)
        except HelperNotReady as exc:
            raise FaultError(f"fault {self.spec.id} helper did not say {word!r} within 15 s: {exc}") from exc

    def _check_helper_said(self, helper: Any, word: str) -> None:
        output = helper.logs().decode(errors="replace")
        if word in output.split():
            return
        helper.reload()
        if helper.status == "exited":
            raise FaultError(f"fault {self.spec.id}: the helper exited: {output.strip() or 'no output'}")
        raise HelperNotReady(f"helper is {helper.status}")

    def _helper(self) -> Any | None:
        try:
            helper = self.context.client.containers.get(self.helper_name)
        except NotFound:
            return None
        labels.ensure_owned(helper.labels, self.context.run_id, f"container {helper.name}")
        return helper

    def _in_target_netns(self, argv: list[str], target: Any, helper: Any | None = None) -> tuple[int, str]:
        """Run a tools command in the target's network namespace: in `helper` if given and running, else in a
        one-off container. Only the one-off is sure to join the target's current namespace: the helper stays in
        the one it joined, which is gone if the target was restarted since (a restart clears the rule)."""
        if helper is not None and helper.status == "running":
            result = helper.exec_run(argv)
            return result.exit_code, result.output.decode(errors="replace").strip()
        exit_code, output = run_tool(self.context.client, self.context.tools_image, target.id, self.context.run_id,
                                     argv, timeout_s=30)
        return exit_code, output.strip()

    def verify(self) -> FaultState:
        target = self.context.containers(self.spec.target)
        if target.status != "running":
            return FaultState(applied=False, detail=f"{self.spec.target} is not running: {NAMESPACE_GONE}")
        probe = f"timeout {PROBE_TIMEOUT_S} bash -c '</dev/tcp/{self.destination_ip()}/{self.spec.port}'"
        # One container for both checks, in the target's current namespace.
        _, output = self._in_target_netns(
            ["bash", "-c", f"iptables -C {' '.join(self.rule())} 2>/dev/null; echo rule=$?; {probe}; echo probe=$?"],
            target,
        )
        found = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
        rule_code, probe_code = int(found.get("rule", "-1")), int(found.get("probe", "-1"))
        path = {0: "open", 124: "silent (packets dropped)"}.get(probe_code, f"refused or failing (exit {probe_code})")
        rule = "present" if rule_code == 0 else "absent"
        return FaultState(applied=rule_code == 0,
                          detail=f"rule {rule}; {self.spec.target} -> {self.spec.destination}:{self.spec.port} {path}")

    def revert(self) -> str:
        helper = self._helper()
        if helper is None and self._target_id is None:
            return "never applied"
        target = self.context.containers(self.spec.target)
        if target.status == "running":
            code, _ = self._in_target_netns(["iptables", "-D", *self.rule()], target, helper)
            outcome = "rule removed" if code == 0 else "rule already absent"
        else:  # stopped, e.g. by an engine restart
            outcome = f"nothing to remove: {NAMESPACE_GONE}"
        if helper is not None:
            if helper.status == "running":
                helper.stop(timeout=3)
            elif "ttl-expired" in helper.logs().decode(errors="replace"):
                outcome = "rule already removed by its time-to-live"
            helper.remove(force=True)
        return outcome
