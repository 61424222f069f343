"""How fast a scenario may be played: `--speed` compresses its incident minutes (steady state and tail stay as
written), up to the largest speed at which the recording can still be judged: its steps told apart, every fault
window outlasting the alert windows that must see it, a restart judged by the checks leaving time to judge it."""

from __future__ import annotations

import itertools
import math

from lab.errors import InvalidInput
from lab.judge.checks.restart_ineffective import KIND as RESTART_INEFFECTIVE
from lab.play.steps.restart import RestartStep
from lab.scenario.document import Scenario
from lab.scenario.timing import MAX_LAB_S

MIN_SPEED = 0.01
"""The slowest --speed of `lab run` and `lab replay`: 100 times slower than written or recorded. Nobody waits for
slower, and a speed near 0 makes a wait too long for the clock to take (OverflowError)."""
MIN_STEP_GAP_S = 0.2
"""Distinct steps closer than this cannot be told apart on the recording (a step itself takes milliseconds)."""
FAULT_WINDOW_MARGIN_S = 1.0
"""A fault window must outlast the longest alert window by this much, or the checks cannot see the fault."""
MIN_FAULT_WINDOW_S = 3.0
RESTART_JUDGING_S = 7.0
"""A restart judged by `restart_ineffective` needs this long between it and the end of its fault's window: its own
time (a database restart takes 1-2 s), the settle after it (RESTART_SETTLE_S, 1 s), the requests the fix may still
save (they began less than a failure's duration before it: 3 s with the built-in pool) and about a second of
requests to judge by (bench/RESULTS.md). A window left empty fails the check saying so."""


def check_speed(speed: float) -> None:
    """A --speed that a run or a replay can be paced by (nan and inf pass a range check: they compare as neither)."""
    if not speed > 0 or not math.isfinite(speed):
        raise InvalidInput(f"--speed must be greater than 0 (and finite), got {speed}")
    if speed < MIN_SPEED:
        raise InvalidInput(f"--speed must be at least {MIN_SPEED:g}, got {speed:g}")


def max_speed(scenario: Scenario) -> float:
    """The largest --speed at which the recording can still tell the steps apart, every fault window outlasts the
    alert windows that must see it, and a restart judged by the checks leaves time to judge it."""
    lab_s = scenario.time.lab_seconds
    limits = [math.inf]
    instants = sorted({step.at_minutes for step in scenario.timeline})
    gaps = [lab_s(later) - lab_s(earlier) for earlier, later in itertools.pairwise(instants)]
    if gaps:
        limits.append(min(gaps) / MIN_STEP_GAP_S)
    longest_alert = max((alert.window_s for alert in scenario.alerts), default=0.0)
    need = max(MIN_FAULT_WINDOW_S, longest_alert + FAULT_WINDOW_MARGIN_S)
    windows = scenario.planned_fault_windows().values()
    limits += [(lab_s(end) - lab_s(start)) / need for start, end in windows if end > start]
    if scenario.checks.section(RESTART_INEFFECTIVE) is not None:
        restarts = [step.at_minutes for step in scenario.timeline if isinstance(step, RestartStep)]
        limits += [(lab_s(end) - lab_s(at)) / RESTART_JUDGING_S
                   for start, end in windows for at in restarts if start <= at < end]
    return min(limits)


def faster(scenario: Scenario, speed: float) -> Scenario:
    """The same scenario played `speed` times faster (steady state and tail stay as written)."""
    check_speed(speed)
    largest = max_speed(scenario)
    if speed > largest:
        raise InvalidInput(
            f"--speed {speed:g} squeezes {scenario.name} too much: its steps would blur together, a fault window "
            f"would be shorter than the alert windows that must see it, or a restart would come too close to "
            f"the fix to judge whether it helped; the largest speed it allows is {math.floor(largest * 10) / 10:g}")
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
