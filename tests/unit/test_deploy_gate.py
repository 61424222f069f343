"""A deploy's health gate without Docker: the rollout played on a fake stack (which release each service runs,
which serve), recorded on a real event log. A real crash loop behind the gate: tests/integration/test_deploy.py."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from lab.clock import FakeClock
from lab.errors import ScenarioError, StackError
from lab.play.stage import Stage
from lab.play.steps import deploy as deploy_step
from lab.play.steps.base import StepFailed
from lab.play.steps.deploy import DeployStep, HealthGate, roll_out
from lab.record.events import EventLog, read_events
from lab.scenario.reader import parse
from lab.settings import PROJECT_ROOT
from lab.stack.deploy import DEPLOY_WAIT_S, Deployed
from lab.stack.project import RESTART_STOP_S
from lab.stack.releases import CURRENT
from tests.cli import lab_cli

SEED = PROJECT_ROOT / "scenarios" / "db-network-misconfig.yaml"
APPS = ("app-1", "app-2", "app-3")


@dataclass
class FakeStack:
    """Each service's release, which service serves on which release (by default, none on renamed-env: a crash
    loop), the services Compose refuses, and the deploys asked for (service, release, wait)."""

    running: dict[str, str] = field(default_factory=lambda: dict.fromkeys(APPS, CURRENT))
    serves: Callable[[str, str], bool] = lambda service, release: release != "renamed-env"
    refused: set[str] = field(default_factory=set)
    asked: list[tuple[str, str, float]] = field(default_factory=list)

    def deploy(self, stack: object, service: str, release: str, wait_s: float = DEPLOY_WAIT_S) -> Deployed:
        assert stack is self
        self.asked.append((service, release, wait_s))
        if service in self.refused:
            raise StackError(f"compose refused {service}")
        self.running[service] = release
        serving = self.serves(service, release)
        return Deployed(service, release, container_id=f"{service}-{len(self.asked)}".ljust(12, "0"),
                        serving=serving, detail="" if serving else f"{service} is restarting/starting")

    def release_of(self, stack: object, service: str) -> str:
        return self.running[service]


@dataclass
class FakeFaults:
    """No fault declared: nothing to follow, nothing a deploy puts in place (tests/unit/test_deployed_faults.py)."""

    clock: FakeClock = field(default_factory=FakeClock)

    def follow(self, service: str) -> list[str]:
        return []

    def deployed(self, service: str, release: str, since: float, by: str) -> list[str]:
        return []


@dataclass
class FakeStage:
    stack: FakeStack
    log: EventLog
    faults: FakeFaults = field(default_factory=FakeFaults)


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> FakeStack:
    fake = FakeStack()
    monkeypatch.setattr(deploy_step, "deploy", fake.deploy)
    monkeypatch.setattr(deploy_step, "release_of", fake.release_of)
    return fake


@pytest.fixture
def stage(tmp_path: Path, stack: FakeStack) -> Stage:
    return cast(Stage, FakeStage(stack, EventLog(tmp_path / "events.jsonl", FakeClock())))


def recorded(stage: Stage) -> list[dict[str, Any]]:
    return [event for event in read_events(stage.log.path) if event["kind"].startswith("deploy.")]


def test_without_a_gate_the_rollout_goes_on_past_a_service_that_does_not_serve(stage: Stage,
                                                                                stack: FakeStack) -> None:
    """As a deploy tool without a health gate: every service is rolled, each waited for the deploy's 30 s, and
    deploy.done lists the ones not serving; nothing is halted."""
    said = roll_out(stage, APPS, "renamed-env")
    assert [service for service, _, _ in stack.asked] == list(APPS)
    assert {wait for _, _, wait in stack.asked} == {DEPLOY_WAIT_S}
    assert said == "app-1, app-2, app-3 on release renamed-env; not serving: app-1, app-2, app-3"
    events = recorded(stage)
    assert [e["kind"] for e in events] == ["deploy.started", *["deploy.replaced"] * 3, "deploy.done"]
    assert events[0]["health_gate"] is None
    assert {key: events[-1][key] for key in ("serving", "not_serving", "rolled_back", "not_deployed")} == {
        "serving": [], "not_serving": list(APPS), "rolled_back": [], "not_deployed": []}


def test_a_gate_halts_at_the_first_service_that_does_not_serve_and_leaves_the_rest(stage: Stage,
                                                                                    stack: FakeStack) -> None:
    """app-1 serves on the new release, app-2 does not within the gate's 5 s: the rollout halts there, app-3 keeps
    its release and is never asked for; app-2 stays on the new release (no rollback asked); deploy.done has each
    service in one list."""
    stack.serves = lambda service, release: service != "app-2"
    said = roll_out(stage, APPS, "pool-of-one", gate=HealthGate(within_s=5.0))
    assert stack.asked == [("app-1", "pool-of-one", 5.0), ("app-2", "pool-of-one", 5.0)]
    assert stack.running == {"app-1": "pool-of-one", "app-2": "pool-of-one", "app-3": CURRENT}
    assert said == "app-1, app-2 on release pool-of-one; halted: app-2 did not serve within 5 s; not deployed: " \
                   "app-3"
    events = recorded(stage)
    assert [e["kind"] for e in events] == ["deploy.started", "deploy.replaced", "deploy.replaced", "deploy.halted",
                                           "deploy.done"]
    assert events[0]["health_gate"] == {"within_s": 5.0, "roll_back": False}
    halted = events[3]
    assert (halted["service"], halted["within_s"], halted["not_deployed"], halted["rolling_back_to"]) == \
        ("app-2", 5.0, ["app-3"], None)
    assert {key: events[-1][key] for key in ("serving", "not_serving", "rolled_back", "not_deployed")} == {
        "serving": ["app-1"], "not_serving": ["app-2"], "rolled_back": [], "not_deployed": ["app-3"]}


def test_a_gate_that_rolls_back_puts_the_canary_back_on_what_it_ran_before(stage: Stage, stack: FakeStack) -> None:
    """With `roll_back`, the service that failed the gate is deployed again on its previous release (waited for as
    a deploy is), recorded as a deploy.replaced of its own marked as the rollback."""
    stack.running["app-1"] = "pool-of-one"
    said = roll_out(stage, APPS, "renamed-env", gate=HealthGate(within_s=5.0, roll_back=True))
    assert stack.asked == [("app-1", "renamed-env", 5.0), ("app-1", "pool-of-one", DEPLOY_WAIT_S)]
    assert said == ("app-1 on release renamed-env; halted: app-1 did not serve within 5 s; not deployed: app-2, "
                    "app-3; app-1 rolled back to pool-of-one")
    events = recorded(stage)
    assert [e["kind"] for e in events] == ["deploy.started", "deploy.replaced", "deploy.halted", "deploy.replaced",
                                           "deploy.done"]
    assert events[2]["rolling_back_to"] == "pool-of-one"
    back = events[3]
    assert (back["service"], back["release"], back["previous"], back["rollback"], back["serving"]) == \
        ("app-1", "pool-of-one", "renamed-env", True, True)
    assert {key: events[-1][key] for key in ("serving", "not_serving", "rolled_back", "not_deployed")} == {
        "serving": [], "not_serving": [], "rolled_back": ["app-1"], "not_deployed": ["app-2", "app-3"]}


def test_a_service_compose_refuses_and_those_after_it_are_not_deployed(stage: Stage, stack: FakeStack) -> None:
    """Compose refusing app-2: the step fails, and deploy.done says app-2 and app-3 were never replaced (not that
    they do not serve)."""
    stack.refused = {"app-2"}
    with pytest.raises(StepFailed, match="deploy of current to app-2 failed: compose refused app-2"):
        roll_out(stage, APPS, CURRENT, gate=HealthGate())
    done = recorded(stage)[-1]
    assert {key: done[key] for key in ("serving", "not_serving", "rolled_back", "not_deployed")} == {
        "serving": ["app-1"], "not_serving": [], "rolled_back": [], "not_deployed": ["app-2", "app-3"]}


def test_a_gated_step_may_take_its_gates_wait_for_each_service_and_its_rollback() -> None:
    """The later steps may run that much late: each service's stop and the gate's wait, and one rollback."""
    def step(gate: dict[str, Any] | None) -> DeployStep:
        return DeployStep.model_validate({"action": "deploy", "at": 0, "services": list(APPS), "release": CURRENT,
                                          "health_gate": gate})

    assert step(None).overrun_s() == 3 * (RESTART_STOP_S + DEPLOY_WAIT_S)
    assert step({"within_s": 5}).overrun_s() == 3 * (RESTART_STOP_S + 5)
    assert step({"within_s": 5, "roll_back": True}).overrun_s() == \
        3 * (RESTART_STOP_S + 5) + RESTART_STOP_S + DEPLOY_WAIT_S


def seed_with_gate(gate: object) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(SEED.read_text())
    step = document["timeline"][2]
    step.pop("service", None)
    step.update(action="deploy", services=["app-2"], release=CURRENT, health_gate=gate)
    return document


@pytest.mark.parametrize(("gate", "expected"), [
    (True, "timeline[2].health_gate: must be a mapping, got a boolean"),
    ({"within_s": 0}, "timeline[2].health_gate.within_s: must be greater than 0, got 0"),
    ({"within_s": "5"}, "timeline[2].health_gate.within_s: must be a number, got a string"),
    ({"within_s": 601}, "timeline[2].health_gate.within_s: must be at most 600, got 601"),
    ({"roll_back": "yes"}, "timeline[2].health_gate.roll_back: must be true or false, got 'yes'"),
    ({"rollback": True}, "timeline[2].health_gate.rollback: unknown field"),
])
def test_a_bad_health_gate_is_one_problem_naming_its_field(gate: object, expected: str) -> None:
    """Each mistake in the gate is named by its field path, with what was wrong."""
    with pytest.raises(ScenarioError) as caught:
        parse(yaml.safe_dump(seed_with_gate(gate)), source="x.yaml")
    assert len(caught.value.problems) == 1 and caught.value.problems[0].startswith(expected), caught.value.problems


def test_lab_validate_refuses_a_bad_health_gate_in_one_line_naming_the_file(tmp_path: Path) -> None:
    """`lab validate`: one line, the file and the field, exit 2; a good gate validates."""
    for beside in ("runbooks", "rules"):  # the seed's scripts and rule files, beside the file naming them
        shutil.copytree(SEED.parent / beside, tmp_path / beside)
    path = tmp_path / "gated.yaml"
    path.write_text(yaml.safe_dump(seed_with_gate({"within_s": -1})))
    result = lab_cli("validate", str(path))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0] == f"lab: error: {path}: timeline[2].health_gate.within_s: must be greater than 0, got -1"
    path.write_text(yaml.safe_dump(seed_with_gate({"within_s": 10, "roll_back": True})))
    assert lab_cli("validate", str(path)).returncode == 0
