"""A fault's impact is judged the same at every speed a scenario allows: from the moment the fault reached every
request to its end, without the requests in flight when it went; the largest speed keeps room for both."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from lab.errors import InvalidInput
from lab.judge.analysis import analyse
from lab.judge.checks import checks_of, evaluate
from lab.judge.checks.impact import ImpactCheck
from lab.scenario.pacing import MIN_JUDGED_REQUESTS, fault_need_s, largest_allowed, max_speed
from lab.scenario.reader import load, parse
from lab.scenario.settling import settle_times
from lab.scenario.shaping import played
from lab.settings import BUILTIN_SCENARIOS, PROJECT_ROOT

from .streams import Incident, recording

SEED = PROJECT_ROOT / "scenarios" / "db-network-misconfig.yaml"
IMPACT = "impact observed during the fault"


def window_of(seconds: float) -> Incident:
    """The seed's incident with a fault window this long (as --speed makes it), the fix saving the requests that
    waited for a connection in its last three seconds, as the built-in app's pool does."""
    return Incident(fault_t=15.0, restart_t=None, alert_t=16.0, mitigation_t=15.0 + seconds,
                    fault_cleared_t=15.0 + seconds, end_t=15.0 + seconds + 20.0, rescued_s=3.0)


def impact_of(events: list[dict[str, Any]], check: ImpactCheck, settle_s: dict[str, float] | None = None) -> \
        tuple[bool, str]:
    result = next(r for r in evaluate(analyse(events, settle_s=settle_s), checks_of(impact=check)) if r.name == IMPACT)
    return result.passed, result.detail


@pytest.mark.parametrize("seconds", [90.0, 9.0, 6.0])
def test_the_requests_a_fix_saves_do_not_dilute_the_impact_at_any_speed(seconds: float) -> None:
    """The seed's bounds (20%-50%, failures slower than 1 s) hold whether the window lasts 90 s (speed 1) or 6:
    the last three seconds' requests, saved by the fix, are neither failures nor successes of the fault."""
    passed, detail = impact_of(recording(window_of(seconds)),
                               ImpactCheck(min_error_rate=0.2, max_error_rate=0.5, min_failure_latency_s=1.0))
    assert passed, detail
    assert detail.startswith("error rate 33.")


def test_a_fault_that_reaches_requests_late_is_judged_once_it_has() -> None:
    """app-2's connections work for 11 s after a DNS fault (until the pool renews them), then every request fails:
    judged from its settle time the error rate is a third; from the apply it would depend on the window's length."""
    events = [dict(e, ok=True, status=200, latency_s=0.004, error=None)
              if e["kind"] == "request" and e["replica"] == "app-2" and 15.0 <= e["t"] < 26.0 else e
              for e in recording(window_of(20.0))]
    check = ImpactCheck(min_error_rate=0.3, max_error_rate=0.4)
    assert impact_of(events, check, {"db-drop": 11.0}) == (
        True, "error rate 32.5% of 120 requests (expected 30%-40%); judged from 11 s after the apply, when the fault "
              "had reached every request")
    assert impact_of(events, check)[0] is False


def test_a_fault_gone_before_it_settled_says_so() -> None:
    """A fault removed before its settle time leaves nothing to judge: the check fails saying why."""
    passed, detail = impact_of(recording(window_of(6.0)), ImpactCheck(min_error_rate=0.0), {"db-drop": 11.0})
    assert not passed
    assert detail.startswith("no request to judge: the fault went before 11 s")


def test_a_measure_that_contains_the_fault_within_seconds_is_judged_in_seconds() -> None:
    """A deep health check takes app-2 out of rotation 3 s into the fault: users are affected those seconds, at
    speed 1 (90 s window) as at speed 15 (6 s), so `max_impacted_s` holds at both where a share would not."""
    for seconds in (90.0, 6.0):
        events = [dict(e, ok=True, status=200, latency_s=0.004, error=None,
                       replica="app-1" if e["replica"] == "app-2" else e["replica"])
                  if e["kind"] == "request" and e["t"] >= 18.0 else e for e in recording(window_of(seconds))]
        passed, detail = impact_of(events, ImpactCheck(min_error_rate=0.0, max_impacted_s=4.0))
        assert passed, detail
        assert "users affected 3 s of the fault window (expected <= 4 s)" in detail
    assert not impact_of(events, ImpactCheck(min_error_rate=0.0, max_impact_share=0.2))[0]


def test_the_library_settles_dns_faults_when_the_pools_renew_their_connections() -> None:
    """On the built-in stack a DNS fault waits for the connections open at its apply to be renewed (the
    scenario's pool lifetime, and a use); packet faults meet the next request; a team's stack is judged at once."""
    aws = load(BUILTIN_SCENARIOS / "aws-2025-dynamodb-dns.yaml")
    assert aws.knobs.app_pool_max_lifetime_s == 10
    assert set(settle_times(aws).values()) == {11.0}
    assert set(settle_times(load(SEED)).values()) == {0.0}
    document = yaml.safe_load((BUILTIN_SCENARIOS / "aws-2025-dynamodb-dns.yaml").read_text())
    document["checks"]["impact"]["settle_s"] = 4
    assert set(settle_times(parse(yaml.safe_dump(document), base_dir=BUILTIN_SCENARIOS)).values()) == {4.0}


def test_the_largest_speed_keeps_room_for_the_settle_time_and_the_requests_judged() -> None:
    """aws-2025's 31.4 s fault window must hold its 11 s settle time, a failure's 3 s and 60 requests at 20 req/s:
    1.8 at most; a lower --rate needs longer to bring its 60 requests, so it lowers the largest speed."""
    aws = load(BUILTIN_SCENARIOS / "aws-2025-dynamodb-dns.yaml")
    need = fault_need_s(aws, "empty-record-app-1")
    assert need == pytest.approx(11.0 + 3.0 + MIN_JUDGED_REQUESTS / 20.0)
    assert max_speed(aws) == pytest.approx(31.4 / need, rel=0.01)
    assert largest_allowed(aws) == 1.8
    assert played(aws, speed=1.8).speed == 1.8
    with pytest.raises(InvalidInput, match=r"the largest speed it allows is 1\.8$"):
        played(aws, speed=2.0)
    with pytest.raises(InvalidInput, match=r"the largest speed it allows is 1\.5$"):
        played(aws, speed=1.8, rate=10.0)
