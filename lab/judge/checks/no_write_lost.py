"""no_write_lost: every write the app acknowledged is in the database at the end of the run."""

from __future__ import annotations

from lab.document import DocumentModel
from lab.judge.checks.base import CheckKind, CheckResult, Judging

NAME = "no acknowledged write lost"


class NoWriteLostCheck(DocumentModel):
    """Every write the app acknowledged is in the database at the end."""


def judge(_: NoWriteLostCheck, judging: Judging) -> list[CheckResult]:
    writes = judging.analysis.writes
    if writes is None:
        return [CheckResult(NAME, False, "acknowledged writes were not verified (recording partial?)")]
    if writes.get("error"):
        return [CheckResult(NAME, False, f"could not verify: {writes['error']}")]
    missing = writes.get("missing", [])
    return [CheckResult(NAME, not missing and writes.get("acknowledged", 0) > 0,
                        f"{writes.get('found')} of {writes.get('acknowledged')} acknowledged writes in the database"
                        + (f"; missing ids {missing[:10]}" if missing else ""))]


KIND = CheckKind[NoWriteLostCheck](section="no_write_lost", config=NoWriteLostCheck, judge=judge, order=120)
