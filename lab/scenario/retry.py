"""The synthetic users' retry policy, as a client SDK declares one: how many tries in all, the wait before each retry
(exponential backoff with a cap, and jitter), which outcomes are worth another try (`retry_on`, as Envoy names it),
and an optional retry budget.

Jitter follows the AWS Architecture Blog's "Exponential Backoff And Jitter": with the backoff's ceiling c for a
retry, `none` waits c, `full` a uniform draw in [0, c], `equal` c/2 plus a draw in [0, c/2]. Jitter spreads retries
out, but it does not make them fewer: while a service fails fast for longer than the backoff, every operation still
makes `attempts` tries. The budget is what bounds the offered load, as gRPC's retryThrottling and Finagle's
RetryBudget do: over any `window_s` seconds, retries may be at most `ratio` times the first attempts sent.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from lab.document import DocumentModel, FieldProblem

MAX_ATTEMPTS = 10
"""The most tries an operation may make: a client without a bound is a retry storm waiting for an outage."""
CONNECTION, TIMEOUT = "connection", "timeout"
"""The outcomes without a status: no connection, or reset or closed before an answer; no answer within the users'
`traffic.timeout_s`."""
ERROR_STATUSES = range(400, 600)


def _outcome(value: Any) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool) and value in ERROR_STATUSES:
        return value
    if value in (CONNECTION, TIMEOUT):
        return str(value)
    raise ValueError(f"{value!r} is neither an HTTP error status (400-599) nor {CONNECTION!r} or {TIMEOUT!r}")


Outcome = Annotated[int | str, BeforeValidator(_outcome), WithJsonSchema({"anyOf": [
    {"type": "integer", "minimum": 400, "maximum": 599}, {"enum": [CONNECTION, TIMEOUT]}]})]
TRANSIENT: tuple[int | str, ...] = (429, 500, 502, 503, 504, CONNECTION, TIMEOUT)
"""What the AWS SDKs' standard retry mode counts as transient: throttling, the server errors, no connection, no
answer in time."""


class RetryBudget(DocumentModel):
    """Retries limited to a share of the first attempts, over a sliding window."""

    ratio: float = Field(strict=True, gt=0, le=MAX_ATTEMPTS - 1, description=(
        "Retries allowed per first attempt sent within the window (0.1: at most one retry for ten operations)."))
    window_s: float = Field(10.0, strict=True, gt=0, le=600, description="The sliding window's length.")


class RetrySpec(DocumentModel):
    """A client's retry policy: each attempt is its own request on the timeline, linked to its operation's first."""

    attempts: int = Field(3, strict=True, ge=1, le=MAX_ATTEMPTS, description=(
        f"Tries in all, the first included (1: no retry; at most {MAX_ATTEMPTS})."))
    backoff_s: float = Field(0.1, strict=True, ge=0, le=60, description="The wait's ceiling before the first retry.")
    multiplier: float = Field(2.0, strict=True, ge=1, le=10, description="Each further retry's ceiling is this "
                                                                          "many times the one before.")
    max_backoff_s: float = Field(10.0, strict=True, ge=0, le=600, description="No ceiling grows beyond this.")
    jitter: Literal["none", "full", "equal"] = Field("full", description=(
        "none: wait the ceiling; full: a uniform draw up to it; equal: half of it plus a draw up to the other half."))
    # Not `on`, which YAML 1.1 (PyYAML) reads as the boolean true.
    retry_on: tuple[Outcome, ...] = Field(TRANSIENT, min_length=1, description=(
        f"The outcomes retried: HTTP statuses (400-599), {CONNECTION!r} (refused, reset or closed before an "
        f"answer), {TIMEOUT!r} (no answer within traffic.timeout_s)."))
    budget: RetryBudget | None = Field(None, description="Without one, every retryable failure is retried while "
                                                         "attempts are left.")

    @model_validator(mode="after")
    def _cap_above_base(self) -> RetrySpec:
        if self.max_backoff_s < self.backoff_s:
            raise FieldProblem("max_backoff_s", f"must be at least backoff_s ({self.backoff_s:g}), got "
                                                f"{self.max_backoff_s:g}")
        return self

    def ceiling_s(self, failed_attempt: int) -> float:
        """The longest wait after try number `failed_attempt` (from 1) failed: exponential, capped."""
        return min(self.max_backoff_s, self.backoff_s * self.multiplier ** (failed_attempt - 1))

    def retries(self, status: int | None, error: str | None) -> bool:
        """Whether an attempt that ended so is worth another (a status retried, or an error without one)."""
        if status is not None:
            return status in self.retry_on
        if error is None:
            return False
        return (TIMEOUT if error.startswith("TimeoutError") else CONNECTION) in self.retry_on
