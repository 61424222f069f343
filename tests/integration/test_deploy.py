"""Releases deployed on a real stack: the built-in app's bad releases fail as their configuration makes them fail
(a table never migrated: up, healthy, every order failing; a renamed variable: a crash loop), and a rollback to
`current` brings the replica back. Through the stack (lab.stack.deploy) and through the `release` fault family the
scenarios use."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from lab.stack import labels
from lab.stack.builtin import APPS
from lab.stack.deploy import deploy, release_of
from lab.stack.engine import Engine
from lab.stack.images import LabImages
from lab.stack.project import Stack
from lab.stack.releases import CURRENT

from .family_cases import failed, fault_for, observe, wait_all_ready, wait_ready

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
