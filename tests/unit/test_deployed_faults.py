"""A deploy that rolls a service onto a declared release fault's release puts that fault in place: the fault set
records it (fault.applied, `by` the deploy, timed from the service's replacement) and watches it, the gate's
rollback is its removal credited to the deploy, the scenario plans its window from the deploy, and the judge
anchors the fault's window there. Played on a fake stack (the releases each service runs) and a real event log;
on real containers: tests/integration/test_incident_library.py (google-2025-config-crash-loop --variant canary)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from lab.clock import FakeClock
from lab.faults.base import FaultTarget
from lab.faults.release import ReleaseSpec, deployed_faults
from lab.judge.analysis import analyse
from lab.judge.checks import checks_of, evaluate
from lab.judge.checks.fault_removed import FaultRemovedCheck
from lab.play.fault_set import FaultSet
from lab.play.stage import Stage
from lab.play.steps import deploy as deploy_step
from lab.play.steps.deploy import DeployStep
from lab.record.events import EventLog, read_events
from lab.scenario.reader import load
from lab.scenario.shaping import with_variant
from lab.settings import PROJECT_ROOT
from lab.stack.deploy import DEPLOY_WAIT_S, Deployed
from lab.stack.releases import CURRENT

from .streams import Incident, event, recording, step

GOOGLE = PROJECT_ROOT / "scenarios" / "google-2025-config-crash-loop.yaml"
APPS = ("app-1", "app-2", "app-3")
PUSHES = tuple(ReleaseSpec(id=f"push-{app}", kind="release", target=app, release="renamed-env") for app in APPS)
COMPOSE_S = 2.0
"""How long each fake replacement takes on the fake clock."""


@dataclass
class FakeStack(FaultTarget):
    """Each service's release; nothing serves on renamed-env (a crash loop); each replacement takes COMPOSE_S."""

    clock: FakeClock = field(default_factory=FakeClock)
    running: dict[str, str] = field(default_factory=lambda: dict.fromkeys(APPS, CURRENT))

    def deploy(self, service: str, release: str, wait_s: float = DEPLOY_WAIT_S) -> Deployed:
        self.clock.advance(COMPOSE_S)
        self.running[service] = release
        serving = release != "renamed-env"
        return Deployed(service, release, container_id=service.ljust(12, "0"), serving=serving,
                        detail="" if serving else f"{service} is restarting")

    def release_of(self, service: str) -> str:
        return self.running[service]


@pytest.fixture
def stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stage:
    """A stage whose stack is the fake one, with a real fault set of the three pushes and a real event log."""
    stack = FakeStack()
    monkeypatch.setattr(deploy_step, "deploy", lambda _, service, release, wait_s: stack.deploy(service, release))
    monkeypatch.setattr(deploy_step, "release_of", lambda _, service: stack.release_of(service))
    log = EventLog(tmp_path / "events.jsonl", stack.clock)
    faults = FaultSet(PUSHES, cast(Any, stack), log, stack.clock, latest_end_s=lambda spec: 60.0)
    return Stage(stack=cast(Any, stack), faults=faults, runbook=cast(Any, None), log=log, users=cast(Any, None),
                 time=cast(Any, None))


def gated_push(services: tuple[str, ...] = APPS, release: str = "renamed-env") -> DeployStep:
    return DeployStep.model_validate({"action": "deploy", "at": 0, "services": list(services), "release": release,
                                      "health_gate": {"within_s": 5, "roll_back": True}})


def faults_recorded(stage: Stage) -> list[dict[str, Any]]:
    return [e for e in read_events(stage.log.path) if e["kind"] in ("fault.applied", "fault.lost")]


def test_a_release_fault_is_put_in_place_by_a_deploy_of_its_release_to_its_service() -> None:
    """Only the declared release fault of that service and that release: not another service's, not a rollback."""
    assert deployed_faults(PUSHES, "app-2", "renamed-env") == ["push-app-2"]
    assert deployed_faults(PUSHES, "app-2", "pool-of-one") == []
    assert deployed_faults(PUSHES, "app-2", CURRENT) == []
    assert deployed_faults(PUSHES, "lb", "renamed-env") == []


def test_the_gated_push_puts_the_canarys_fault_in_place_and_its_rollback_removes_it(stage: Stage) -> None:
    """app-1 replaced onto renamed-env: push-app-1 applied by the deploy step from the replacement's start (t=0,
    in effect 2 s later), watched; the gate's rollback removes it, credited to the same step; app-2's and app-3's
    pushes never begin."""
    said = gated_push().perform(stage)
    assert "fault push-app-1 in place" in said and "app-1 rolled back to current" in said
    applied, lost = faults_recorded(stage)
    assert (applied["kind"], applied["fault"], applied["by"], applied["t"], applied["effect_s"]) == \
        ("fault.applied", "push-app-1", "deploy step 0", 0.0, COMPOSE_S)
    assert (lost["kind"], lost["fault"], lost["by"], lost["last_seen_t"], lost["noticed_t"]) == \
        ("fault.lost", "push-app-1", "deploy step 0", COMPOSE_S, 2 * COMPOSE_S)
    assert stage.faults.applied == {"push-app-1"} and stage.faults.watch.watching() == []


def test_a_rollback_to_current_puts_no_fault_in_place_and_an_applied_one_is_not_begun_again(stage: Stage) -> None:
    """The red button (a deploy to current) begins nothing; a deploy onto the release of a fault already in place
    (its apply step's) records no second beginning."""
    stage.faults.apply("push-app-2")
    DeployStep.model_validate({"action": "deploy", "at": 0, "services": ["app-1"], "release": CURRENT}).perform(stage)
    DeployStep.model_validate({"action": "deploy", "at": 0, "services": ["app-2"], "release": "renamed-env"}) \
        .perform(stage)
    applied = [e for e in faults_recorded(stage) if e["kind"] == "fault.applied"]
    assert [(e["fault"], e["by"]) for e in applied] == [("push-app-2", None)]


def test_the_scenario_plans_the_window_of_a_fault_its_deploy_puts_in_place() -> None:
    """The canary's push puts the three pushes in place as far as the plan knows; its gate ends them within the
    step (in lab seconds, which --speed does not shorten), so they do not limit the speed; the scenario as written
    plans its applies until the last step, as before."""
    scenario = load(GOOGLE)
    canary = with_variant(scenario, "canary")
    assert canary.puts_in_place(canary.timeline[0]) == ["push-app-1", "push-app-2", "push-app-3"]
    assert canary.planned_fault_windows() == dict.fromkeys(("push-app-1", "push-app-2", "push-app-3"), (0.0, 0.0))
    assert scenario.planned_fault_windows() == dict.fromkeys(("push-app-1", "push-app-2", "push-app-3"), (0.0, 45.0))


def canary_recording() -> list[dict[str, Any]]:
    """The synthetic seed recording without its apply and revert, the fault begun and removed by a deploy step."""
    events = [e for e in recording(Incident(fault_t=None)) if not (e["kind"] == "step" and e["action"] == "revert")]
    events.append(step(0, 15.0, "deploy", "14:00", service="app-1", took_s=7.0))
    events.append(event("fault.applied", 15.0, fault="push-app-1", target="app-1", fault_kind="release",
                        effect_s=6.0, detail="app-1 rolled to release renamed-env by deploy step 0",
                        by="deploy step 0"))
    events.append(event("fault.lost", 21.0, fault="push-app-1", by="deploy step 0", last_seen_t=21.0,
                        noticed_t=22.5))
    return events


def test_the_judge_anchors_a_deployed_faults_window_on_the_deploy_and_credits_its_removal() -> None:
    """The window runs from the replacement (fault.applied by the deploy) to the fault.lost, ended by the deploy
    step; it is the recording's fault (the steady state ends there) and fault_removed passes, naming the step."""
    analysis = analyse(canary_recording())
    [window] = analysis.faults
    assert (window.fault, window.kind, window.target, window.start, window.end, window.ended_by) == \
        ("push-app-1", "release", "app-1", 15.0, 21.0, "deploy step 0")
    assert analysis.steady is not None and analysis.steady.end == 15.0
    assert next(m for m in analysis.milestones if m.name == "fault injected").t == 15.0
    [result] = [r for r in evaluate(analysis, checks_of(fault_removed=FaultRemovedCheck()))
                if r.name == "the runbook removed the fault"]
    assert result.passed and result.detail == "removed: push-app-1 by deploy step 0 (t=21.0 s)"


def test_a_fault_applied_by_its_apply_step_is_anchored_on_the_step_as_before() -> None:
    """An apply step's own fault.applied (no `by`) begins no second window: the step's time is the window's start."""
    events = recording()
    events.append(event("fault.applied", 16.5, fault="db-drop", target="app-2", fault_kind="packet_drop",
                        effect_s=1.5, detail="rule added"))
    [window] = analyse(events).faults
    assert (window.fault, window.start) == ("db-drop", 15.001)
