"""The recording's own check: the load generator started its requests on time (or the figures do not show what users
at that rate would have seen) and did not fail before the run's end."""

from __future__ import annotations

from lab.judge.checks.base import CheckKind, CheckResult, Judging
from lab.judge.lateness import describe

NAME = "the load generator kept up"


def judge(_: None, judging: Judging) -> list[CheckResult]:
    if judging.max_lateness_p99_s is None:
        return []
    analysis, max_p99_s = judging.analysis, judging.max_lateness_p99_s
    if analysis.generator_failure is not None:  # its last requests are missing, whatever the lateness of the others
        return [CheckResult(NAME, False, analysis.generator_failure, of_recording=True)]
    lateness = analysis.lateness
    passed = lateness.requests > 0 and lateness.p99_s is not None and lateness.p99_s <= max_p99_s
    detail = f"start lateness {describe(lateness)} (p99 max {max_p99_s * 1000:g} ms)"
    if not passed and lateness.requests:
        detail += ": requests left late, so latencies and rates are not what users at this rate would see"
    return [CheckResult(NAME, passed, detail, of_recording=True)]


KIND = CheckKind[None](section=None, config=None, judge=judge, order=10)
