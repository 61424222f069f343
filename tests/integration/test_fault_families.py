"""Every fault family on a real stack: applied, seen by the app and its users, verified in the target's own
namespaces, reverted, and the stack healthy again. And every family's dead-man switch: the process holding the
fault is killed with SIGKILL and the fault goes by itself, long before its time-to-live.

One stack serves the module: each case leaves it healthy (every replica ready) before the next begins.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from lab.errors import FaultError
from lab.faults.base import FaultState
from lab.faults.fault import Fault
from lab.faults.target import StackTarget
from lab.settings import PROJECT_ROOT
from lab.stack import labels
from lab.stack.engine import Engine
from lab.stack.images import LabImages
from lab.stack.project import Stack
from tests.figures import Figure

from .family_cases import (
    CASES,
    OBSERVE_S,
    Case,
    db_errors,
    engine_events,
    failed,
    fault_for,
    median_s,
    observe,
    probe,
    restart_db,
    wait_all_ready,
    wait_ready,
)
from .helpers import NotYet

# The tests that judge a family by how slow its users found it are marked serial, to have the engine alone;
# make test runs the others two at a time.
pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def shared_stack(engine: Engine, lab_images: LabImages) -> Iterator[Stack]:
    with engine.stack(images=lab_images) as running:
        yield running


@pytest.mark.serial
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_family_applied_seen_by_users_verified_and_reverted(
    shared_stack: Stack, lab_images: LabImages, case: Case, figure: Figure
) -> None:
    """The fault is in effect (its own verify says so, in the target's namespaces), the failing replicas fail with
    the family's error while the others stay ready; after the revert the verify says gone and every replica is
    ready again."""
    wait_all_ready(shared_stack)
    fault = fault_for(shared_stack, lab_images, case.spec, f"test-{case.name}")
    since = datetime.now(UTC)
    started = time.monotonic()
    try:
        said = fault.apply()
        applied_s = time.monotonic() - started
        state = fault.verify()
        assert state.applied, state.detail
        assert case.verify_detail in state.detail
        if case.provoke is not None:
            case.provoke(shared_stack)
            wait_ready(shared_stack, case.healthy)  # the provocation's own blip is not the fault's doing
        if case.extra is not None:
            case.extra(shared_stack, lab_images)
        seen = observe(shared_stack, case.failing + case.healthy, OBSERVE_S, case.path, case.write)
    finally:
        removing = datetime.now(UTC)
        outcome, after = fault.remove()  # as a run's revert steps and its cleanup do
    assert isinstance(after, FaultState) and not after.applied, after
    probes = engine_events(shared_stack, removing, {"event": "create", "label": f"{labels.PROBE}=true"})
    assert probes == [], "the helpers that reverted the fault should have said it was gone"
    assert not fault.verify().applied  # and a fresh probe, now that the helpers have left, agrees
    for name in case.failing:
        if case.slow_s is None:
            assert any(failed(p) for p in seen[name]), f"{name} never failed: {seen[name]}"
        else:
            assert median_s(seen[name]) >= case.slow_s, f"{name} was not slow: {seen[name]}"
    for name in case.healthy:
        assert not any(failed(p) for p in seen[name][1:]), f"{name} failed too: {seen[name]}"
        if case.slow_s is not None:
            assert median_s(seen[name]) < case.slow_s / 2, f"{name} was slow too: {seen[name]}"
    errors = [error for name in case.failing for error in db_errors(shared_stack, name, since)]
    if case.app_error is not None:
        assert any(case.app_error in error for error in errors), errors
    wait_all_ready(shared_stack)
    failures = [p for name in case.failing for p in seen[name] if failed(p)]
    hit = failures or [p for name in case.failing for p in seen[name]]
    shown = next((error for error in errors if case.app_error and case.app_error in error),
                 errors[0] if errors else hit[0].body[:160])
    figure(f"[{case.name}] applied in {applied_s * 1000:.0f} ms ({said}); failing replicas: "
           f"{len(failures)} of {sum(len(seen[name]) for name in case.failing)} probes failed, median "
           f"{median_s(hit):.2f} s; app error: {shown}; revert: {outcome}")


CONNECTS = 100
"""New connections a share of packets is measured on: at a drop probability of 0.5 the count of lost ones has a
standard deviation of 5."""


def failed_connects(stack: Stack, lab_images: LabImages, client: str) -> int:
    """Of CONNECTS new TCP connections from `client`'s network namespace to the database, how many did not complete
    within 0.3 s (a lost SYN is sent again only after a second)."""
    script = (f"n=0; for i in $(seq {CONNECTS}); do timeout 0.3 bash -c 'exec 3<>/dev/tcp/db/5432' 2>/dev/null "
              "|| n=$((n+1)); done; echo $n")
    output = stack.client.containers.run(
        lab_images.tools, ["bash", "-c", script], remove=True, cap_drop=["ALL"],
        network_mode=f"container:{stack.container(client).id}",
        labels={"outage-lab.managed": "true", "outage-lab.run": stack.run_id, "outage-lab.role": "fault",
                "outage-lab.probe": "true"})
    return int(output.decode().strip())


@pytest.mark.serial
def test_packet_drop_share_drops_the_share_of_connects_it_says(shared_stack: Stack, lab_images: LabImages,
                                                                figure: Figure) -> None:
    """probability 0.5: about half of app-2's new connections to the database lose their SYN (30 to 70 of 100: four
    standard deviations either way), none once reverted; the rule is iptables' statistic match. Its users see
    slowness rather than errors: TCP sends the lost packets again, 200 ms later at the soonest."""
    wait_all_ready(shared_stack)
    fault = fault_for(shared_stack, lab_images, {"kind": "packet-drop", "target": "app-2", "destination": "db",
                                                 "port": 5432, "probability": 0.5}, "test-share")
    try:
        fault.apply()
        state = fault.verify()
        dropped = failed_connects(shared_stack, lab_images, "app-2")
        seen = observe(shared_stack, ("app-2",), OBSERVE_S)["app-2"]
    finally:
        fault.revert()
    found = re.search(r"-m statistic --mode random --probability (\S+)", state.detail)
    assert state.applied and found is not None and float(found.group(1)) == pytest.approx(0.5)
    assert 0.3 * CONNECTS <= dropped <= 0.7 * CONNECTS, dropped
    assert failed_connects(shared_stack, lab_images, "app-2") == 0
    slowest = max(probe.latency_s for probe in seen)
    assert slowest >= 0.2, seen
    figure(f"[packet-drop probability 0.5] {dropped} of {CONNECTS} new connections lost their SYN; app-2's "
           f"readiness: {sum(p.status != 200 for p in seen)} of {len(seen)} failed, the slowest took "
           f"{slowest:.2f} s")


@pytest.mark.serial
def test_bandwidth_cap_slows_the_targets_replies(shared_stack: Stack, lab_images: LabImages,
                                                 figure: Figure) -> None:
    """Capped at 8 kbit/s, app-2's replies queue: a burst of requests to it takes many times longer than before,
    while app-1's do not slow down. Replies that overflow the 2-s queue are dropped and resent by TCP, so a capped
    request may take many seconds: each gets 30 s."""
    wait_all_ready(shared_stack)
    urls = shared_stack.endpoints().app_urls

    def burst(name: str) -> float:
        """12 requests to the replica at once (threads of this process): how long until the last answer is in."""
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=12) as pool:
            answers = list(pool.map(lambda _: probe(f"{urls[name]}/healthz", timeout_s=30.0), range(12)))
        assert all(answer.status == 200 for answer in answers), answers
        return time.monotonic() - started

    before = burst("app-2")
    fault = fault_for(shared_stack, lab_images, {"kind": "bandwidth", "target": "app-2", "rate_kbit": 8,
                                                 "burst_kb": 2, "queue_ms": 2000}, "test-bandwidth")
    try:
        fault.apply()
        state = fault.verify()
        capped, other = burst("app-2"), burst("app-1")
    finally:
        fault.revert()
    assert state.applied and "tbf 5ab1:" in state.detail
    assert not fault.verify().applied
    assert capped > 3 * before and capped > 2 * other, (before, capped, other)
    figure(f"[bandwidth] 12 requests at once to app-2: {before * 1000:.0f} ms before, {capped * 1000:.0f} ms "
           f"capped at 8 kbit/s (app-1 meanwhile: {other * 1000:.0f} ms)")


@pytest.mark.serial
def test_latency_adds_its_delay_once_per_query_on_connections_already_open(
        shared_stack: Stack, lab_images: LabImages, figure: Figure) -> None:
    """200 ms on app-2's packets to the database: each /readyz (one query, on a connection its pool opened long
    before the fault) takes the delay once (per round trip: not per packet, not twice), and a jitter of 50 ms
    spreads it; app-1 is untouched."""
    wait_all_ready(shared_stack)
    before = observe(shared_stack, ("app-2",), 2)["app-2"]
    added: dict[str, list[float]] = {}
    for jitter_ms in (0, 50):
        fault = fault_for(shared_stack, lab_images, {"kind": "latency", "target": "app-2", "destination": "db",
                                                     "port": 5432, "delay_ms": 200, "jitter_ms": jitter_ms},
                          f"test-latency-{jitter_ms}")
        try:
            fault.apply()
            seen = observe(shared_stack, ("app-2", "app-1"), 4)
        finally:
            fault.revert()
        assert not any(failed(p) for p in seen["app-2"] + seen["app-1"]), seen
        assert median_s(seen["app-1"]) < 0.05, seen["app-1"]
        added[f"jitter {jitter_ms} ms"] = sorted(p.latency_s - median_s(before) for p in seen["app-2"])
    steady = added["jitter 0 ms"]
    assert 0.19 <= steady[len(steady) // 2] <= 0.26, steady
    spread = added["jitter 50 ms"]
    assert spread[-1] - spread[0] >= 0.04 and 0.15 <= spread[len(spread) // 2] <= 0.26, spread
    figure("[latency 200 ms] added to app-2's /readyz (one query): " + "; ".join(
        f"{name}: median {values[len(values) // 2] * 1000:.1f} ms, {values[0] * 1000:.1f}-"
        f"{values[-1] * 1000:.1f} ms over {len(values)}" for name, values in added.items()))


def test_an_access_rule_outlives_a_database_restart(shared_stack: Stack, lab_images: LabImages) -> None:
    """pg_hba.conf is a file in the database's container: a restart (a new PID namespace; the helper that joined the
    old one is gone with it) keeps the rule, the fault still says it is in effect (no false loss for the fault
    watch), app-2 is still refused, and the revert reaches the restarted database's file."""
    wait_all_ready(shared_stack)
    fault = fault_for(shared_stack, lab_images, {"kind": "db-access-rule", "target": "db", "client": "app-2"},
                      "test-hba-restart")
    try:
        fault.apply()
        restart_db(shared_stack)
        shared_stack.wait_healthy(("db",), poll_s=0.2)
        state = fault.verify()
        assert state.applied, state.detail
        wait_ready(shared_stack, ("app-1", "app-3"))
        seen = observe(shared_stack, ("app-2",), 3)
        assert all(p.status != 200 for p in seen["app-2"]), seen["app-2"]
    finally:
        outcome = fault.revert()
    assert "db: removed" in outcome, outcome
    assert not fault.verify().applied
    wait_all_ready(shared_stack)


def test_a_fault_put_back_by_hand_is_reverted_by_mark_only(shared_stack: Stack, lab_images: LabImages) -> None:
    """Revert deletes only what carries the fault's mark: an identical rule without it stays in place."""
    app2 = shared_stack.container("app-2")
    db_ip = StackTarget(shared_stack, lab_images.tools).address("db", seen_from="app-2")
    rule = ["OUTPUT", "-p", "tcp", "-d", db_ip, "--dport", "15432", "-j", "DROP"]

    def tools(*argv: str) -> str:
        output = shared_stack.client.containers.run(
            lab_images.tools, list(argv), remove=True, network_mode=f"container:{app2.id}", cap_drop=["ALL"],
            cap_add=["NET_ADMIN"], labels={"outage-lab.managed": "true", "outage-lab.run": shared_stack.run_id,
                                           "outage-lab.role": "fault", "outage-lab.probe": "true"})
        return str(output.decode())

    tools("iptables", "-A", *rule)
    try:
        fault = fault_for(shared_stack, lab_images, {"kind": "packet-drop", "target": "app-2", "destination": "db",
                                                     "port": 15432}, "test-mark")
        fault.apply()
        fault.revert()
        assert "--dport 15432 -j DROP" in tools("iptables", "-S", "OUTPUT")
    finally:
        tools("iptables", "-D", *rule)


def test_an_engine_helper_leaves_a_container_without_the_runs_labels_alone(shared_stack: Stack,
                                                                          lab_images: LabImages) -> None:
    """A cpu-limit planned against a container that does not carry the run's labels (here: one this test starts,
    labelled for another run) is refused by the helper before any change, and that container's quota stays."""
    other = shared_stack.client.containers.run(
        lab_images.tools, ["sleep", "120"], detach=True, network_mode="none",
        labels={labels.MANAGED: "true", labels.RUN: "someone-elses-run"})
    try:
        fault = fault_for(shared_stack, lab_images, {"kind": "cpu-limit", "target": "app-2", "cpus": 0.5},
                          "test-foreign")
        assert isinstance(fault, Fault)  # a helper's family
        fault._plans = [replace(plan, env={**plan.env, "CONTAINER": other.id}) for plan in fault.plans()]
        with pytest.raises(FaultError, match=r"does not carry run .* labels: not touched"):
            fault.apply()
        other.reload()
        assert other.attrs["HostConfig"]["CpuQuota"] == 0 and other.attrs["HostConfig"]["NanoCpus"] == 0
    finally:
        other.remove(force=True)


KILLED = [*CASES, Case("http-error", {"kind": "http-error", "target": "lb", "share": 0.5}, failing=(),
                       app_error=None)]
"""Every family's dead-man switch (http-error's users are the LB's, not the replicas': it has its own test)."""


@pytest.mark.parametrize("case", KILLED, ids=[case.name for case in KILLED])
def test_kill_9_of_the_holder_reverts_the_fault_by_itself(
    shared_stack: Stack, lab_images: LabImages, case: Case, figure: Figure
) -> None:
    """The process that applied the fault is killed with SIGKILL: its helpers see their stdin close and revert at
    once (the TTL is 600 s, so the TTL cannot be what removed it), and the helper containers are gone after."""
    wait_all_ready(shared_stack)
    fault_id = f"kill-{case.name}"
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.fault_holder"], cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        env={**os.environ, "HOLD_RUN_ID": shared_stack.run_id, "HOLD_DB_PASSWORD": shared_stack.db_password,
             "HOLD_TOOLS_IMAGE": lab_images.tools, "HOLD_SPEC": json.dumps({"id": fault_id, **case.spec})})
    try:
        assert holder.stdout is not None
        line = holder.stdout.readline()
        assert line.strip() == "applied", holder.stderr.read() if holder.stderr else line
        observer = fault_for(shared_stack, lab_images, case.spec, fault_id)  # same mark: sees the holder's fault
        if case.provoke is not None:
            case.provoke(shared_stack)

        def seen_applied() -> None:
            if not observer.verify().applied:
                raise NotYet("not seen applied")

        Retrying(stop=stop_after_delay(10), wait=wait_fixed(0.2), retry=retry_if_exception_type(NotYet),
                 reraise=True)(seen_applied)
        holder.kill()
        killed = time.monotonic()
        holder.wait(timeout=10)

        def gone() -> None:
            if observer.verify().applied:
                raise NotYet("still applied")

        Retrying(stop=stop_after_delay(30), wait=wait_fixed(0.05), retry=retry_if_exception_type(NotYet),
                 reraise=True)(gone)
        gone_s = time.monotonic() - killed
    finally:
        if holder.poll() is None:
            holder.kill()

    def helpers_removed() -> None:
        if shared_stack.client.containers.list(all=True, filters={"label": [f"outage-lab.fault={fault_id}"]}):
            raise NotYet("a helper container is still there")

    Retrying(stop=stop_after_delay(10), wait=wait_fixed(0.1), retry=retry_if_exception_type(NotYet),
             reraise=True)(helpers_removed)
    wait_all_ready(shared_stack)
    figure(f"[kill -9 {case.name}] fault gone {gone_s:.2f} s after SIGKILL (TTL 600 s)")
