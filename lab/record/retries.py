"""The synthetic users' client retrying, as the scenario's `traffic.retry` declares (lab.scenario.retry): at each
attempt's end it says whether another follows and after how long, and keeps the retry budget.

The lab's own waits (for a stack, a helper, an engine) are tenacity's; these are not waits at all. A user's retry is
one more request the open-loop generator (lab.record.loadgen) schedules on its timer at the failure's time plus the
drawn backoff, beside the planned first attempts, which it never delays: a client retrying in a loop of sleeps
would be a closed loop, and would send less exactly while the service fails.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

from lab.scenario.retry import RetryBudget, RetrySpec

BUDGET_SPENT = "budget"
"""Why a retryable failure had no retry: the retry budget was spent."""
NO_ATTEMPT_LEFT = "attempts"
"""Why a retryable failure had no retry: it was the policy's last attempt."""


@dataclass(frozen=True)
class Decision:
    """What follows an attempt: another after `wait_s`, or none (`refused` says why, if the outcome was retryable)."""

    wait_s: float | None = None
    refused: str | None = None


FINAL = Decision()


class Budget:
    """Retries allowed while, over the last `window_s`, they stay within `ratio` times the first attempts sent."""

    def __init__(self, spec: RetryBudget) -> None:
        self.spec = spec
        self._firsts: deque[float] = deque()
        self._retries: deque[float] = deque()

    def deposit(self, t: float) -> None:
        """A first attempt was sent at `t`."""
        self._firsts.append(t)

    def withdraw(self, t: float) -> bool:
        """A retry at `t`: allowed (and counted) if the budget has room for it."""
        since = t - self.spec.window_s
        for sent in (self._firsts, self._retries):
            while sent and sent[0] <= since:
                sent.popleft()
        if len(self._retries) + 1 > self.spec.ratio * len(self._firsts):
            return False
        self._retries.append(t)
        return True


class Retries:
    """One client's retry policy at work: seeded, so a run's jitter repeats with its seed."""

    def __init__(self, spec: RetrySpec, seed: int = 0) -> None:
        self.spec = spec
        self._random = random.Random(seed)
        self._budget = Budget(spec.budget) if spec.budget is not None else None

    def first_sent(self, t: float) -> None:
        if self._budget is not None:
            self._budget.deposit(t)

    def wait_s(self, failed_attempt: int) -> float:
        """The backoff drawn after try number `failed_attempt` failed."""
        ceiling = self.spec.ceiling_s(failed_attempt)
        if self.spec.jitter == "full":
            return self._random.uniform(0.0, ceiling)
        if self.spec.jitter == "equal":
            return ceiling / 2 + self._random.uniform(0.0, ceiling / 2)
        return ceiling

    def after(self, attempt: int, status: int | None, error: str | None, now: float) -> Decision:
        """What follows try number `attempt`, which ended at `now` with `status` or `error`."""
        if not self.spec.retries(status, error):
            return FINAL
        if attempt >= self.spec.attempts:
            return Decision(refused=NO_ATTEMPT_LEFT)
        # Withdrawn when decided, as Finagle's budget does: the window then counts retries in the order they were
        # allowed, whatever the jitter makes of their send times.
        if self._budget is not None and not self._budget.withdraw(now):
            return Decision(refused=BUDGET_SPENT)
        return Decision(wait_s=self.wait_s(attempt))
