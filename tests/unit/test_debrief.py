"""The drill debrief from events: the trainee's times, mitigations tried, and the incident's own figures."""

from __future__ import annotations

from lab.drill.debrief import debrief, original_minutes, render_markdown
from lab.scenario.reader import load
from lab.settings import PROJECT_ROOT

SCENARIO = load(PROJECT_ROOT / "scenarios" / "db-network-misconfig.yaml")


def ev(kind: str, t: float, **fields: object) -> dict[str, object]:
    return {"t": t, "wall": "", "kind": kind, **fields}


def test_original_incident_identified_after_75_and_mitigated_after_90_minutes() -> None:
    """Read from the scenario's timeline, relative to the fault."""
    assert original_minutes(SCENARIO) == (75, 90)


def test_times_count_from_the_fault_and_a_restart_before_the_fix_had_no_effect() -> None:
    """ack, identify (a command on the faulty service), mitigate and recover, with the useless DB restart listed."""
    events = [
        ev("fault.applied", 10.0, target="app-2"),
        ev("drill.ack", 25.0),
        ev("docker.container", 40.0, action="restart", service="db", role="stack"),
        ev("drill.exec", 70.0, service="app-2", command=["iptables", "-S"], netns=True, exit_code=0),
        ev("drill.fixed", 100.0),
        ev("drill.recovered", 101.5),
        ev("drill.hint", 50.0, number=1),
        ev("drill.ended", 105.0, outcome="fixed"),
    ]
    result = debrief(events, SCENARIO)
    assert (result.acknowledged_s, result.identified_s, result.mitigated_s, result.recovered_s) == (15, 60, 90, 91.5)
    assert result.mitigations_tried == ["30.0 s: restart db (no effect)"]
    assert result.hints_used == 1 and result.outcome == "fixed"
    text = render_markdown(result, SCENARIO)
    assert "| mitigated (the fault no longer in effect) | 1:30.0 | 90 min |" in text


def test_a_note_counts_as_identification_and_nothing_happened_is_all_none() -> None:
    """Without a fault nothing is timed; a note after it marks identification."""
    assert debrief([ev("drill.note", 5.0, text="x")], SCENARIO).identified_s is None
    events = [ev("fault.applied", 1.0, target="app-2"), ev("drill.note", 4.0, text="the firewall!")]
    result = debrief(events, SCENARIO)
    assert result.identified_s == 3.0 and result.outcome == "interrupted" and result.mitigated_s is None
