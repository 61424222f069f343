"""One fault of a run, whatever its family: its helpers started armed ahead of the offset, applied at it,
verified in the target's current namespaces, and reverted (idempotently) at the end."""

from __future__ import annotations

import contextlib
import threading
import time

from lab.errors import FaultError
from lab.faults.base import FaultFamily, FaultSpec, FaultState, FaultTarget, HelperPlan
from lab.faults.helper import Helper, run_once, start_helper
from lab.stack import labels
from lab.stack.attach import Reply

ARM_MARGIN_S = 60.0
"""How long a prepared helper waits past its fault's moment before it leaves on its own (the arm timeout is the
seconds until that moment plus this)."""


def fault_mark(run_id: str, fault_id: str) -> str:
    """What every rule, route or line a fault puts in place carries; a revert removes only what carries it."""
    return f"outage-lab:{run_id}:{fault_id}"


class Fault:
    def __init__(self, spec: FaultSpec, family: FaultFamily, target: FaultTarget, ttl_s: float) -> None:
        self.spec = spec
        self.family = family
        self.target = target
        self.ttl_s = ttl_s
        self.mark = fault_mark(target.run_id, spec.id)
        self._plans: list[HelperPlan] | None = None
        self._helpers: dict[str, Helper] = {}
        self._lock = threading.RLock()  # the run's fault monitor verifies while the main thread reverts

    def plans(self) -> list[HelperPlan]:
        """The family's helpers, planned once (addresses are looked up when the fault is first prepared)."""
        if self._plans is None:
            self._plans = self._plan()
        return self._plans

    def _plan(self) -> list[HelperPlan]:
        if self.family.plan is None:
            raise FaultError(f"fault family {self.family.kind} plans no helper")
        return self.family.plan(self.spec, self.target, self.mark)

    def places(self) -> frozenset[str]:
        """The services whose namespaces or state hold the fault: only a step acting on one of them can remove it."""
        return frozenset({self.spec.target} | {owner for plan in self.plans()
                                                 if (owner := plan.joins) is not None})

    def helper_name(self, plan: HelperPlan) -> str:
        return f"{self.target.project}-fault-{self.spec.id}-{plan.name}"

    def _labels(self, arm_timeout_s: float) -> dict[str, str]:
        return {**labels.run_labels(self.target.run_id, labels.ROLE_FAULT), labels.FAULT: self.spec.id,
                labels.EXPIRES: str(int(time.time() + arm_timeout_s + self.ttl_s))}

    def prepare(self, arm_timeout_s: float) -> None:
        """Start every helper armed, before the fault's offset: at the offset only a line on its stdin remains."""
        with self._lock:
            for plan in self.plans():
                if plan.name not in self._helpers:
                    self._helpers[plan.name] = start_helper(
                        self.target.client, plan, self.target, name=self.helper_name(plan), mark=self.mark,
                        helper_labels=self._labels(arm_timeout_s), arm_timeout_s=arm_timeout_s, ttl_s=self.ttl_s)

    def apply(self) -> str:
        """Put the fault in place; returns once every helper says it is. A helper that fails leaves none applied."""
        with self._lock:
            self.prepare(arm_timeout_s=ARM_MARGIN_S)  # a no-op when it was prepared ahead of its moment
            said = []
            for plan in self.plans():
                reply = self._helpers[plan.name].request("apply", {"applied", "apply-failed"}, coded=False)
                if reply.word != "applied":
                    self.revert()
                    raise FaultError(f"fault {self.spec.id} could not be applied on {plan.name}: {reply.detail}")
                said.append(reply.detail)
            return "; ".join(detail for detail in said if detail)

    def follow(self) -> str:
        """A service the fault names was restarted and may be back at another address (Docker gives a restarted
        container any free one): a rule for the old address would silently stop matching, and the restart would
        look like a fix, which it was not in the incident. If the fault is in effect and its plan changed, move it:
        revert it where it was, apply it as planned now. Returns what moved, or "" if nothing did."""
        with self._lock:
            fresh = self._plan()
            if fresh == self.plans() or not self.verify().applied:
                return ""
            before = [plan.env for plan in self.plans()]
            self.revert()
            self._plans = fresh
            self.apply()
            changed = sorted({f"{key} {old[key]} -> {new[key]}" for old, new in zip(before, (p.env for p in fresh),
                                                                                       strict=False)
                              for key in new if old.get(key) != new[key]})
            return ", ".join(changed) or "re-planned"

    def verify(self) -> FaultState:
        """Whether the fault is in effect now, observed (not what the lab believes it did). In effect if any of
        its helpers finds it in place."""
        with self._lock:
            states = [self._verify_one(plan) for plan in self.plans()]
        return FaultState(applied=any(state.applied for state in states),
                          detail="; ".join(state.detail for state in states if state.detail))

    def _verify_one(self, plan: HelperPlan) -> FaultState:
        gone = self._namespace_gone(plan)
        if gone:
            return FaultState(False, gone)
        reply = self._ask(plan, "verify", "state")
        if reply.code not in (0, 1):
            raise FaultError(f"fault {self.spec.id}: cannot tell whether it is in effect on {plan.name}: "
                             f"{reply.detail or f'exit {reply.code}'}")
        return FaultState(reply.code == 0, reply.detail)

    def revert(self) -> str:
        """Remove the fault wherever it is; idempotent. Returns what was done."""
        with self._lock:
            try:
                return self._revert_everywhere()
            finally:
                self._dismiss_all()

    def remove(self) -> tuple[str, FaultState | FaultError]:
        """Revert the fault and observe whether it is gone, asking the helpers that reverted it before they leave
        (a fresh probe container each otherwise: 0.3 s at the end of every run). Returns what was done, and the
        state seen after it, or why it could not be seen (the revert happened all the same). A revert that fails
        raises."""
        with self._lock:
            try:
                outcome = self._revert_everywhere()
                try:
                    return outcome, self.verify()
                except FaultError as exc:
                    return outcome, exc
            finally:
                self._dismiss_all()

    def _revert_everywhere(self) -> str:
        outcomes = [self._revert_one(plan) for plan in self.plans()] if self._plans or self._helpers else []
        return "; ".join(outcomes) or "never applied"

    def _revert_one(self, plan: HelperPlan) -> str:
        gone = self._namespace_gone(plan)
        if gone:
            return f"nothing to remove: {gone}"
        reply = self._ask(plan, "revert", "reverted", "absent", "revert-failed")
        if reply.word == "revert-failed":
            raise FaultError(f"fault {self.spec.id}: revert on {plan.name} failed: {reply.detail}")
        return f"{plan.name}: {'removed' if reply.word == 'reverted' else 'already absent'}" + \
            (f" ({reply.detail})" if reply.detail else "")

    def _ask(self, plan: HelperPlan, command: str, *words: str) -> Reply:
        """Ask the helper if it sits in the namespaces the target has now; otherwise (helper gone, target
        restarted) run the same function once in a fresh container placed in the current ones."""
        helper = self._helpers.get(plan.name)
        if helper is not None and self._current(helper, plan):
            try:
                return helper.request(command, set(words), coded=command == "verify")
            except FaultError:
                # Its stream ended (TTL expired, removed from outside) or it did not answer in time: a helper
                # that did not answer would not answer `exit` either (waiting for it held the revert 20 s more).
                # It goes without a word; a probe answers instead.
                self._discard(plan.name)
        reply = run_once(self.target.client, plan, self.target, command, mark=self.mark,
                         probe_labels=labels.run_labels(self.target.run_id, labels.ROLE_FAULT))
        if command == "revert":  # a probe reports "revert CODE DETAIL"
            word = {0: "reverted", 1: "absent"}.get(reply.code if reply.code is not None else -1, "revert-failed")
            return Reply(word, reply.code, reply.detail)
        return reply

    def _current(self, helper: Helper, plan: HelperPlan) -> bool:
        owner_service = plan.joins
        if owner_service is None or helper.namespace_pid is None:
            return True
        owner = self.target.container(owner_service)
        return owner.status == "running" and int(owner.attrs["State"]["Pid"]) == helper.namespace_pid

    def _namespace_gone(self, plan: HelperPlan) -> str:
        """Why the fault cannot be in place any more (its target stopped: its namespaces went with it), or ""."""
        owner_service = plan.network_of or plan.pid_of
        if owner_service is None:
            return ""
        if self.target.container(owner_service).status != "running":
            return f"{owner_service} is not running: its namespaces, and the fault in them, went when it stopped"
        return ""

    def _dismiss_all(self) -> None:
        """Every helper leaves; one still holding its fault reverts it as it goes."""
        for name in list(self._helpers):
            self._dismiss(name)

    def _discard(self, plan_name: str) -> None:
        helper = self._helpers.pop(plan_name, None)
        if helper is not None:
            helper.remove()

    def _dismiss(self, plan_name: str) -> None:
        helper = self._helpers.get(plan_name)
        if helper is None:
            return
        with contextlib.suppress(FaultError):  # already gone
            helper.request("exit", {"exited"})
        self._discard(plan_name)
