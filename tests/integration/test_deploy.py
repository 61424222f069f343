"""Releases deployed on a real stack: the built-in app's bad releases fail as their configuration makes them fail
(a table never migrated: up, healthy, every order failing; a renamed variable: a crash loop), and a rollback to
`current` brings the replica back. Through the stack (lab.stack.deploy), through the `release` fault family the
scenarios use, and through a `deploy` step behind a health gate in `lab run`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.settings import BUILTIN_SCENARIOS
from lab.stack import labels
from lab.stack.builtin import APPS
from lab.stack.deploy import deploy, release_of
from lab.stack.engine import Engine
from lab.stack.images import LabImages
from lab.stack.project import Stack
from lab.stack.releases import CURRENT
from tests.cli import lab_cli
from tests.figures import Figure

from .family_cases import failed, fault_for, observe, wait_all_ready, wait_ready
from .helpers import CI_TIME, events_of, leftovers, summary_of

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def shared_stack(engine: Engine, lab_images: LabImages) -> Iterator[Stack]:
    with engine.stack(images=lab_images) as running:
        yield running


def test_an_unmigrated_release_serves_health_checks_and_fails_every_order_until_rolled_back(
        shared_stack: Stack) -> None:
    """Rolled to unmigrated-table, app-2 is recreated (another container, labelled with the release), answers
    /healthz and /readyz, and fails every order read with the database's own error; app-1 and app-3 do not. Rolled
    back to current, it serves orders again."""
    wait_all_ready(shared_stack)
    before = shared_stack.container("app-2").id
    deployed = deploy(shared_stack, "app-2", "unmigrated-table")
    try:
        assert deployed.serving, deployed.detail
        assert deployed.container_id != before
        assert release_of(shared_stack, "app-2") == "unmigrated-table"
        assert shared_stack.container("app-2").labels[labels.RELEASE] == "unmigrated-table"
        health = observe(shared_stack, ("app-2",), 1, "/readyz")["app-2"]
        assert not any(failed(answer) for answer in health), health
        seen = observe(shared_stack, APPS, 2, "/orders/1")
        assert seen["app-2"] and all(failed(answer) for answer in seen["app-2"]), seen["app-2"]
        answer = json.loads(seen["app-2"][0].body)
        assert answer["error"] == "psycopg.errors.UndefinedTable", answer
        assert answer["detail"].startswith('relation "orders_v2" does not exist'), answer
        assert not any(failed(answer) for name in ("app-1", "app-3") for answer in seen[name])
    finally:
        rolled_back = deploy(shared_stack, "app-2", CURRENT)
    assert rolled_back.serving, rolled_back.detail
    assert release_of(shared_stack, "app-2") == CURRENT
    seen = observe(shared_stack, ("app-2",), 1, "/orders/1")
    assert not any(failed(answer) for answer in seen["app-2"]), seen["app-2"]


def test_a_release_that_cannot_start_crash_loops_and_the_fault_sees_its_rollback(
        shared_stack: Stack, lab_images: LabImages) -> None:
    """The release fault rolls app-1 to renamed-env: the fault is in effect while app-1 runs that release, which
    never serves (it exits at start, KeyError: 'DB_HOST', and is started again). A rollback from outside the fault
    (a responder's deploy) ends it, and the fault's own revert then leaves the rollback alone."""
    wait_all_ready(shared_stack)
    fault = fault_for(shared_stack, lab_images, {"kind": "release", "target": "app-1", "release": "renamed-env"},
                      "test-release")
    try:
        said = fault.apply()
        assert said == "app-1 rolled from release current to renamed-env", said
        assert fault.verify().applied
        crashed = deploy(shared_stack, "app-1", "renamed-env", wait_s=10)  # as a deploy tool would wait for it
        assert crashed.serving is False and "not healthy after 10 s" in crashed.detail, crashed
        container = shared_stack.container("app-1")
        assert container.attrs["RestartCount"] >= 1 or container.status == "restarting", container.attrs["State"]
        assert "KeyError: 'DB_HOST'" in container.logs(tail=50).decode(errors="replace")
        rolled_back = deploy(shared_stack, "app-1", CURRENT)
        assert rolled_back.serving, rolled_back.detail
        state = fault.verify()
        assert not state.applied and state.detail == "app-1 runs release current", state.detail
    finally:
        outcome = fault.revert()
    assert outcome == "app-1 already runs release current", outcome
    wait_ready(shared_stack, APPS)


GATE_S = 5.0


def gated_push(tmp_path: Path, roll_back: bool) -> Path:
    """The Google 2025 scenario's users (20 req/s, five tries at once) and its configuration push, made a rollout of
    the three replicas behind a health gate; without the gate's rollback, the responders roll the canary back."""
    document: dict[str, Any] = yaml.safe_load((BUILTIN_SCENARIOS / "google-2025-config-crash-loop.yaml").read_text())
    document["time"].update(CI_TIME)
    timeline = [{"at": 0, "clock": "10:45", "action": "deploy", "services": list(APPS), "release": "renamed-env",
                 "health_gate": {"within_s": GATE_S, "roll_back": roll_back}, "text": "The push, behind a gate"}]
    if not roll_back:
        timeline.append({"at": 15, "clock": "11:00", "action": "deploy", "services": ["app-1"], "release": CURRENT,
                         "milestone": "mitigation", "text": "The responders roll the canary back"})
    timeline.append({"at": 20, "clock": "11:05", "action": "note", "text": "The end"})
    for section in ("faults", "checks", "variants", "drill", "alerts"):
        document.pop(section)
    document.update(name="gated-push", timeline=timeline)
    path = tmp_path / "gated-push.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


# Alone on the machine (make test runs the others two at a time): it plays a whole `lab run`, whose checks hold
# the generator to its schedule; a run beside it would take its CPU.
@pytest.mark.serial
@pytest.mark.parametrize("roll_back", [False, True], ids=["halt", "halt-and-roll-back"])
def test_a_health_gate_halts_a_crash_looping_push_at_the_canary(
        tmp_path: Path, engine: Engine, lab_images: LabImages, roll_back: bool,
        figure: Figure) -> None:
    """A push of renamed-env to app-1, app-2 and app-3 behind a 5 s health gate: app-1 is replaced and crash-loops,
    the rollout halts there (deploy.halted: app-1, not deployed: app-2, app-3), and the engine never touches app-2
    or app-3, which serve the users throughout; with `roll_back` the gate puts app-1 back on current (a
    deploy.replaced of its own, serving), without it app-1 stays on the push until the responders' deploy.
    deploy.done puts each service in one list. Says the users' figures from the push to the end."""
    out = tmp_path / "run"
    result = lab_cli("run", str(gated_push(tmp_path, roll_back)), "--out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    events = events_of(out)
    started = next(e for e in events if e["kind"] == "deploy.started" and e["release"] == "renamed-env")
    assert started["services"] == list(APPS)
    assert started["health_gate"] == {"within_s": GATE_S, "roll_back": roll_back}
    replaced = [e for e in events if e["kind"] == "deploy.replaced" and e["t"] >= started["t"]]
    pushed = replaced[0]
    assert (pushed["service"], pushed["release"], pushed["serving"]) == ("app-1", "renamed-env", False), pushed
    assert f"not healthy after {GATE_S:g} s: app-1 is " in pushed["detail"], pushed
    halted = next(e for e in events if e["kind"] == "deploy.halted")
    assert (halted["service"], halted["not_deployed"]) == ("app-1", ["app-2", "app-3"]), halted
    assert halted["rolling_back_to"] == (CURRENT if roll_back else None)
    back = replaced[1]  # the gate's rollback, or the responders' deploy
    assert (back["service"], back["release"], back["rollback"], back["serving"]) == \
        ("app-1", CURRENT, roll_back, True), back
    assert len(replaced) == 2, replaced
    done = next(e for e in events if e["kind"] == "deploy.done" and e["release"] == "renamed-env")
    assert (done["serving"], done["not_serving"], done["rolled_back"], done["not_deployed"]) == \
        ([], [] if roll_back else ["app-1"], ["app-1"] if roll_back else [], ["app-2", "app-3"]), done
    push_step = next(e for e in events if e["kind"] == "step" and e["index"] == 0)
    assert push_step["ok"] and "halted: app-1 did not serve within 5 s; not deployed: app-2, app-3" \
        in push_step["detail"], push_step
    touched = {e["service"] for e in events if e["kind"] == "docker.container" and e["role"] == labels.ROLE_STACK
               and e["t"] >= started["t"]}
    assert touched <= {"app-1"}, touched
    requests = [e for e in events if e["kind"] == "request" and e["t"] >= started["t"]]
    serving = {e["replica"] for e in requests if e["ok"]}
    assert {"app-2", "app-3"} <= serving, serving
    after_push = figures(requests)
    assert after_push.failed_attempts < 0.1 and after_push.succeeded > 0.98, after_push
    assert leftovers(engine, summary_of(out)["run_id"]) == []
    rollout = figures([e for e in requests if e["t"] < done["t"]])
    figure(f"[gated push, {'halt and roll back' if roll_back else 'halt'}] halted "
           f"{halted['t'] - started['t']:.1f} s after the push began; during the rollout ({rollout}); from the "
           f"push to the end ({after_push})")


@dataclass(frozen=True)
class Figures:
    attempts: int
    failed_attempts: float
    operations: int
    succeeded: float
    """The share of operations that finally succeeded."""

    def __str__(self) -> str:
        return (f"{self.failed_attempts:.1%} of {self.attempts} attempts failed, {self.attempts / self.operations:.2f} "
                f"per operation, {self.succeeded:.1%} of {self.operations} operations finally succeeded")


def figures(requests: list[dict[str, Any]]) -> Figures:
    """What users saw in these attempts: how many failed, and how many of their operations finally succeeded."""
    operations: dict[int, bool] = {}
    for request in requests:
        operations[request["seq"]] = operations.get(request["seq"], False) or request["ok"]
    return Figures(len(requests), sum(not e["ok"] for e in requests) / len(requests), len(operations),
                   sum(operations.values()) / len(operations))
