"""Runbook steps without Docker: how they are written (and refused), how a runbook file replaces a scenario's
runbook, how the fault watch credits a fault's going to a responder's step or to nobody, and how the checks judge
a runbook that removed the fault, one that did not, and a fault removed from outside."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.clock import FakeClock
from lab.errors import ScenarioError
from lab.faults.base import FaultState
from lab.judge.analysis import analyse
from lab.judge.checks import checks_of, evaluate
from lab.judge.checks.fault_removed import FaultRemovedCheck
from lab.play.fault_watch import Action, FaultWatch, credited
from lab.play.steps.runbook import RunbookStep
from lab.record.events import EventLog, read_events
from lab.scenario.reader import load, load_runbook, parse
from lab.scenario.shaping import with_runbook
from lab.settings import PROJECT_ROOT
from lab.stack.builtin import BUILTIN_TOPOLOGY

from .streams import Incident, event, recording

SEED = PROJECT_ROOT / "scenarios" / "db-network-misconfig.yaml"


def seed_with_fix(fix: dict[str, Any]) -> list[str]:
    document = yaml.safe_load(SEED.read_text())
    step = next(s for s in document["timeline"] if s.get("milestone") == "mitigation")
    for key in ("netns", "service", "script", "command", "args"):
        step.pop(key, None)
    step.update(fix)
    with pytest.raises(ScenarioError) as caught:
        parse(yaml.safe_dump(document), source="x.yaml")
    return caught.value.problems


@pytest.mark.parametrize(("fix", "expected"), [
    ({"netns": "app-2", "command": "iptables -F"},
     "timeline[5].command: must be a list of arguments (argv), not a shell string"),
    ({"netns": "app-2", "service": "app-2", "command": ["true"]},
     "timeline[5].service: give exactly one of service, netns or script (got service, netns)"),
    ({}, "timeline[5].service: give exactly one of service, netns or script"),
    ({"netns": "app-2"}, "timeline[5].command: is required with netns"),
    ({"script": "fix.sh", "command": ["x"]}, "timeline[5].command: does not go with script"),
    ({"service": "app-2", "command": ["true"], "args": ["x"]}, "timeline[5].args: only goes with script"),
    ({"netns": "cache", "command": ["true"]}, "timeline[5].netns: unknown service 'cache'"),
    ({"netns": "app-2", "command": ["true"], "timeout_s": 0}, "timeline[5].timeout_s: must be greater than 0"),
])
def test_a_badly_written_runbook_step_is_named_by_its_field(fix: dict[str, Any], expected: str) -> None:
    """Each mistake in a runbook step is one problem with its field path."""
    found = seed_with_fix(fix)
    assert any(problem.startswith(expected) for problem in found), found


def test_the_seed_runbook_is_real_steps_not_the_labs_revert() -> None:
    """The first scenario's fix is the responders' script; no step of its timeline reverts the fault."""
    scenario = load(SEED)
    steps = {step.milestone: step for step in scenario.timeline if step.milestone}
    assert isinstance(steps["identified"], RunbookStep) and steps["identified"].where == "netns"
    fix = steps["mitigation"]
    assert isinstance(fix, RunbookStep) and fix.where == "host" and fix.clock == "15:30"
    assert (scenario.base_dir / str(fix.script)).is_file()
    assert not any(step.action == "revert" for step in scenario.timeline)


def test_a_runbook_file_replaces_the_scenarios_runbook_and_keeps_the_incident(tmp_path: Path) -> None:
    """--runbook: the scenario's runbook steps go, the file's come in time order, the restart (part of the
    incident) stays, and the file's scripts are found next to the file."""
    runbook = tmp_path / "v2" / "runbook.yaml"
    runbook.parent.mkdir()
    runbook.write_text(yaml.safe_dump({"steps": [
        {"at": 80, "action": "runbook", "netns": "app-2", "command": ["iptables", "-S"], "milestone": "identified"},
        {"at": 95, "action": "runbook", "script": "fix.sh", "milestone": "mitigation"}]}))
    scenario = with_runbook(load(SEED), load_runbook(runbook, BUILTIN_TOPOLOGY), str(runbook))
    assert [(s.at_minutes, s.action) for s in scenario.timeline] == [
        (0, "apply"), (5, "note"), (20, "restart"), (35, "note"), (80, "runbook"), (95, "runbook"), (150, "note")]
    assert [s.index for s in scenario.timeline] == list(range(7))
    fix = scenario.timeline[5]
    assert isinstance(fix, RunbookStep) and fix.script == str(runbook.parent.resolve() / "fix.sh")
    assert [s["action"] for s in scenario.document["timeline"]][4:6] == ["runbook", "runbook"]
    assert scenario.planned_fault_windows() == {"app2-db-packets-dropped": (0, 95)}


def test_a_runbook_file_may_not_apply_faults(tmp_path: Path) -> None:
    """A runbook holds responders' steps only: an apply step in it is refused with its field path."""
    runbook = tmp_path / "runbook.yaml"
    runbook.write_text(yaml.safe_dump({"steps": [{"at": 1, "action": "apply", "fault": "x"}]}))
    with pytest.raises(ScenarioError, match=r"steps\[0\].action: unknown value 'apply'"):
        load_runbook(runbook, BUILTIN_TOPOLOGY)


def test_the_watch_credits_the_action_running_when_the_fault_went() -> None:
    """A runbook step begun before the last check that saw the fault, and still running, is what removed it."""
    runbook = Action(24.0, "runbook step 5", end=30.0)
    restart = Action(10.0, "restart step 2", end=13.0)
    assert credited([restart, runbook], last_seen_t=28.0, noticed_t=29.0) is runbook
    assert credited([restart, runbook], last_seen_t=31.0, noticed_t=32.0) is None  # nothing ran then: outside
    assert credited([restart], last_seen_t=12.0, noticed_t=14.0) is restart


def test_the_watch_credits_only_an_action_on_the_faults_own_services() -> None:
    """A restart of the database cannot remove a rule held in app-2's network namespace: a fault gone meanwhile
    was removed from outside; a host script may act anywhere, so it is credited."""
    restart_db = Action(10.0, "restart step 2", end=13.0, services=frozenset({"db"}))
    on_app2 = Action(10.0, "runbook step 3", end=13.0, services=frozenset({"app-2"}))
    host_script = Action(10.0, "runbook step 4", end=13.0, services=None)
    app2 = frozenset({"app-2"})
    assert credited([restart_db], last_seen_t=12.0, noticed_t=14.0, places=app2) is None
    assert credited([restart_db, on_app2], last_seen_t=12.0, noticed_t=14.0, places=app2) is on_app2
    assert credited([restart_db, host_script], last_seen_t=12.0, noticed_t=14.0, places=app2) is host_script


class VanishingFault:
    """Stands for a fault whose verify says "gone" from a given moment (no Docker: the watch's logic only)."""

    def __init__(self, clock: FakeClock, gone_at: float) -> None:
        self.clock, self.gone_at = clock, gone_at

    def places(self) -> frozenset[str]:
        return frozenset({"app-2"})

    def verify(self) -> FaultState:
        return FaultState(self.clock.now() < self.gone_at, "rule present" if self.clock.now() < self.gone_at else "")


def test_the_watch_records_a_fault_gone_after_a_runbook_step(tmp_path: Path) -> None:
    """Checked right after a responder's step: fault.lost, credited to that step, once."""
    clock = FakeClock()
    log = EventLog(tmp_path / "events.jsonl", clock)
    # The watch calls only verify(): a stand-in for a Fault, whose other methods need Docker.
    watch = FaultWatch({"f": VanishingFault(clock, gone_at=24.5)}, log, clock, follow=print)  # type: ignore[dict-item]
    clock.advance(15)
    watch.watch("f")
    clock.advance(9)
    begun = watch.action("runbook step 5")
    watch.check_now()  # t=24: still there
    clock.advance(1)
    watch.done(begun)
    watch.check_now()
    watch.check_now()
    lost = [e for e in read_events(log.path) if e["kind"] == "fault.lost"]
    assert [(e["fault"], e["by"], e["t"]) for e in lost] == [("f", "runbook step 5", 24.0)]
    assert watch.watching() == []


def test_the_watch_says_outside_when_nothing_of_the_scenario_ran(tmp_path: Path) -> None:
    """A fault gone while no step ran (a bystander deleted the rule): credited to nobody."""
    clock = FakeClock()
    log = EventLog(tmp_path / "events.jsonl", clock)
    # The watch calls only verify(): a stand-in for a Fault, whose other methods need Docker.
    watch = FaultWatch({"f": VanishingFault(clock, gone_at=20.0)}, log, clock, follow=print, every_s=1)  # type: ignore[dict-item]
    watch.watch("f")
    for _ in range(25):
        clock.advance(1)
        watch.check_now()
    lost = [e for e in read_events(log.path) if e["kind"] == "fault.lost"]
    assert [(e["by"], e["t"]) for e in lost] == [("outside", 20.0)]


def judged(events: list[dict[str, Any]]) -> dict[str, tuple[bool, str]]:
    results = evaluate(analyse(events), checks_of(fault_removed=FaultRemovedCheck()))
    return {result.name: (result.passed, result.detail) for result in results}


def runbook_recording(lost_by: str | None, cleanup: bool) -> list[dict[str, Any]]:
    """The synthetic seed recording with its revert step turned into a runbook step, and what the watch saw."""
    events = [e for e in recording(Incident(fault_cleared_t=46.0 if lost_by else None))
              if not (e["kind"] == "step" and e["action"] == "revert")]
    events.append(event("step", 45.0, index=5, action="runbook", clock="15:30", planned_t=45.0, skew_s=0.0,
                        took_s=1.0, ok=lost_by is not None, milestone="mitigation", text="fix",
                        detail="runbook step exited 1 after 0.4 s: iptables: Bad rule" if not lost_by else "ok"))
    if lost_by:
        events.append(event("fault.lost", 45.5, fault="db-drop", by=lost_by, last_seen_t=45.2, noticed_t=46.0))
    if cleanup:
        events.append(event("fault.cleanup", 79.0, fault="db-drop", still_in_effect=True, detail="rule present"))
    return events


def test_a_runbook_that_removed_the_fault_passes() -> None:
    """fault.lost credited to the runbook step: the fault ended there, and the check says by what."""
    results = judged(runbook_recording(lost_by="runbook step 5", cleanup=False))
    assert results["the runbook removed the fault"] == (True, "removed: db-drop by runbook step 5 (t=45.5 s)")
    assert results["each fault held until the scenario removed it"][0] is True


def test_a_stale_runbook_fails_with_its_output() -> None:
    """The fault was still in effect at cleanup: the check fails, naming the runbook step's own words."""
    passed, detail = judged(runbook_recording(lost_by=None, cleanup=True))["the runbook removed the fault"]
    assert passed is False
    assert "still in effect at cleanup: the runbook did not remove it" in detail
    assert "runbook step exited 1 after 0.4 s: iptables: Bad rule" in detail


def test_a_fault_removed_from_outside_is_its_own_outcome() -> None:
    """Removed by nobody the scenario ran: not "the app recovered by itself" but a fault lost, with the time."""
    results = judged(runbook_recording(lost_by="outside", cleanup=False))
    assert results["each fault held until the scenario removed it"] == (
        False, "fault db-drop was removed from outside at t=45.5 s (by nothing the scenario did)")
    assert results["the runbook removed the fault"][0] is False
