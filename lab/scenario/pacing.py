"""How fast a scenario may be played: `--speed` compresses its incident minutes (steady state and tail stay as
written), up to the largest speed at which the recording can still be judged: its steps told apart, every fault
window long enough for the fault to reach every request and then for its impact to be judged and its alerts to
fire, a restart judged by the checks leaving time to judge it. What the stack takes (connections renewed, a pool's
wait, a fix saving the requests waiting) does not shrink with the speed: these limits keep room for it, so the
checks' bounds hold at every speed the scenario allows."""

from __future__ import annotations

import itertools
import math

from lab.errors import InvalidInput
from lab.judge.checks.impact import KIND as IMPACT
from lab.judge.checks.restart_ineffective import KIND as RESTART_INEFFECTIVE
from lab.play.steps.restart import RestartStep
from lab.scenario.document import Scenario
from lab.scenario.settling import settle_times
from lab.scenario.timing import MAX_LAB_S

MIN_SPEED = 0.01
"""The slowest --speed of `lab run` and `lab replay`: 100 times slower than written or recorded. Nobody waits for
slower, and a speed near 0 makes a wait too long for the clock to take (OverflowError)."""
MIN_STEP_GAP_S = 0.2
"""Distinct steps closer than this cannot be told apart on the recording (a step itself takes milliseconds)."""
FAULT_WINDOW_MARGIN_S = 1.0
"""A fault window must outlast the longest alert window by this much, or the checks cannot see the fault."""
MIN_FAULT_WINDOW_S = 3.0
MIN_JUDGED_REQUESTS = 60
"""The requests a fault's impact is judged on at least: its error rate's bounds are tens of percent wide, and the
rate of a fault failing 30% of requests at random has a standard deviation of 6 points over 60 of them."""
RESTART_JUDGING_S = 9.0
"""A restart judged by `restart_ineffective` needs this long between it and the end of its fault's window: its own
time (a database restart takes 1-2 s, 3.4 s under 500 requests per second on a 2-core machine), the settle after it
(RESTART_SETTLE_S, 1 s), the requests the fix may still save (they began less than a failure's duration before it:
3 s with the built-in pool) and a second and a half of requests to judge by. A window left empty fails the check
saying so."""


def check_speed(speed: float) -> None:
    """A --speed that a run or a replay can be paced by (nan and inf pass a range check: they compare as neither)."""
    if not speed > 0 or not math.isfinite(speed):
        raise InvalidInput(f"--speed must be greater than 0 (and finite), got {speed}")
    if speed < MIN_SPEED:
        raise InvalidInput(f"--speed must be at least {MIN_SPEED:g}, got {speed:g}")


def failure_s(scenario: Scenario) -> float:
    """How long a request failed by a fault takes, as far as the lab knows (the requests started that long before
    the fault goes are not judged: lab.judge.windows.judged_span): on the built-in stack its wait for a pooled
    connection (a connect or a query the fault holds up fails sooner: connect and TCP user timeouts of 2 s); on a
    team's stack, the bound its impact check sets on the median failure, else the users' own patience."""
    if scenario.stack is None:
        return scenario.knobs.app_pool_timeout_s
    impact = scenario.checks.section(IMPACT)
    bound = impact.max_failure_latency_s if impact is not None else None
    return bound if bound is not None else scenario.traffic.timeout_s


def fault_need_s(scenario: Scenario, fault_id: str) -> float:
    """The lab seconds a fault window must last to be judged: until the fault has reached every request, then the
    longest of: the alert windows that must see it (and fill with the requests an alert needs at the scenario's
    rate), MIN_JUDGED_REQUESTS at that rate plus a failure's time (the requests still in flight when it goes are
    not judged)."""
    rate = scenario.traffic.rate
    longest_alert = max((max(alert.window_s, alert.min_requests / rate) for alert in scenario.alerts), default=0.0)
    judged = failure_s(scenario) + MIN_JUDGED_REQUESTS / rate
    return settle_times(scenario)[fault_id] + max(MIN_FAULT_WINDOW_S, longest_alert + FAULT_WINDOW_MARGIN_S, judged)


def max_speed(scenario: Scenario) -> float:
    """The largest --speed at which the recording can still tell the steps apart, every fault window lasts the
    time it needs to be judged (fault_need_s), and a restart judged by the checks leaves time to judge it."""
    lab_s = scenario.time.lab_seconds
    limits = [math.inf]
    instants = sorted({step.at_minutes for step in scenario.timeline})
    gaps = [lab_s(later) - lab_s(earlier) for earlier, later in itertools.pairwise(instants)]
    if gaps:
        limits.append(min(gaps) / MIN_STEP_GAP_S)
    planned = scenario.planned_fault_windows()
    windows = planned.values()
    limits += [(lab_s(end) - lab_s(start)) / fault_need_s(scenario, fault_id)
               for fault_id, (start, end) in planned.items() if end > start]
    if scenario.checks.section(RESTART_INEFFECTIVE) is not None:
        restarts = [step.at_minutes for step in scenario.timeline if isinstance(step, RestartStep)]
        limits += [(lab_s(end) - lab_s(at)) / RESTART_JUDGING_S
                   for start, end in windows for at in restarts if start <= at < end]
    return min(limits)


def largest_allowed(scenario: Scenario) -> float:
    """max_speed rounded down to a tenth: the largest speed a user is told to give."""
    return math.floor(max_speed(scenario) * 10) / 10


def faster(scenario: Scenario, speed: float) -> Scenario:
    """The same scenario played `speed` times faster (steady state and tail stay as written)."""
    check_speed(speed)
    largest = max_speed(scenario)
    if speed > largest:
        raise InvalidInput(
            f"--speed {speed:g} squeezes {scenario.name} too much: its steps would blur together, a fault window "
            f"would end before the fault could be judged (the seconds the stack needs to show it, the alerts and "
            f"requests that judge it), or a restart would come too close to the fix to judge whether it helped; "
            f"the largest speed it allows is {largest_allowed(scenario):g}")
    played = scenario.model_copy(update={"time": scenario.time.faster(speed)})
    if played.duration_s > MAX_LAB_S:
        raise InvalidInput(f"--speed {speed:g} would make {scenario.name} last {played.duration_s:.0f} s, more than "
                           f"a day ({MAX_LAB_S} s)")
    slowest = played.time.slowest_minute_s()
    if slowest > MAX_LAB_S:  # the run writes its scenario at this pace: every reader of the recording checks it
        raise InvalidInput(f"--speed {speed:g} would play an incident minute of {scenario.name} in {slowest:.0f} s, "
                           f"more than a day ({MAX_LAB_S} s)")
    played._speed = scenario.speed * speed
    return played
