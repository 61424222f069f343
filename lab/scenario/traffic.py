"""The synthetic users' traffic a scenario declares: their rate, mix of reads and writes, patience, and how punctual
the load generator must be for the recording to be trusted, and whether their client retries."""

from __future__ import annotations

from pydantic import Field

from lab.document import DocumentModel, Ratio
from lab.scenario.retry import RetrySpec

MAX_RATE = 1000.0
"""The highest rate measured to pass every check of the seed scenario on the reference 2-core machine, the stack and
the lab sharing it (bench/RESULTS.md): on a busier or smaller machine the generator's own check says when it fell
behind (exit 5), and the steady-state check when the stack did not serve the rate."""


class TrafficSpec(DocumentModel):
    rate: float = Field(20.0, strict=True, gt=0, le=MAX_RATE, description="Synthetic users' requests per second.")
    read_ratio: Ratio = Field(0.7, description="Share of reads (GET); the rest are writes.")
    timeout_s: float = Field(10.0, strict=True, gt=0, le=120, description="A user gives up after this long.")
    max_lateness_p99_s: float = Field(0.05, strict=True, gt=0, le=60, description=(
        "The load generator kept up if 99% of requests started at most this long after their planned start; "
        "otherwise the recording is judged unreliable. The default is far below what the checks judge (latency "
        "bounds of a second, windows of seconds) and far above a generator that keeps up on a busy 2-core machine "
        "(p99 under 20 ms); one that fell behind is late by hundreds of ms."))
    retry: RetrySpec | None = Field(None, description=(
        "The users' client retries as this policy says (each attempt a request of its own on the timeline); "
        "without one, every operation is one request."))
