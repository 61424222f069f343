"""When a fault's impact is judged from: the seconds after its apply at which the stack shows it to every request.
They do not shrink with --speed, so the impact checks judge from there (lab.judge.checks.impact) and the largest
speed keeps room for them (lab.scenario.pacing)."""

from __future__ import annotations

from lab.judge.checks.fault_impacts import KIND as FAULT_IMPACTS
from lab.judge.checks.impact import KIND as IMPACT
from lab.scenario.document import Scenario


def settle_times(scenario: Scenario) -> dict[str, float]:
    """Fault id -> seconds after its apply from which its impact is judged: the `settle_s` of the impact check
    naming it (fault_impacts) or of the impact check of every fault, else the time the built-in stack needs to show
    it (its family's onset with the scenario's knobs), else none on a team's stack (whose timings the lab does not
    know)."""
    impact = scenario.checks.section(IMPACT)
    named = {check.fault: check.settle_s for check in scenario.checks.section(FAULT_IMPACTS) or ()
             if check.fault is not None and check.settle_s is not None}
    times = {}
    for spec in scenario.faults:
        own = named.get(spec.id, impact.settle_s if impact is not None else None)
        times[spec.id] = own if own is not None else spec.onset_s(scenario.knobs) if scenario.stack is None else 0.0
    return times
