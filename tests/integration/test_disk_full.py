"""disk-full on a real stack, beyond what every family's case checks (writes fail, reads go on: test_fault_families):
the built-in database's bounded disk keeps the fill and the data over a restart of the database, a SIGKILL
included, and the family refuses a filesystem larger than its bound."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from lab.errors import FaultError
from lab.stack.builtin import APPS, DB
from lab.stack.engine import Engine
from lab.stack.images import LabImages
from lab.stack.project import Stack

from .family_cases import failed, fault_for, observe, probe, wait_all_ready
from .helpers import NotYet

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def shared_stack(engine: Engine, lab_images: LabImages) -> Iterator[Stack]:
    with engine.stack(images=lab_images) as running:
        yield running


def write_order(stack: Stack) -> int:
    written = probe(f"{stack.endpoints().app_urls['app-1']}/orders", write=True)
    assert written.status == 201, written
    return int(json.loads(written.body)["id"])


def assert_order_readable(stack: Stack, order: int) -> None:
    read = probe(f"{stack.endpoints().app_urls['app-2']}/orders/{order}")
    assert read.status == 200 and json.loads(read.body)["id"] == order, read


def test_a_full_disk_and_the_data_outlive_a_database_restart(shared_stack: Stack, lab_images: LabImages) -> None:
    """After a clean stop (which removes the server's lock file) the fill is still there, so the server cannot even
    write its lock file and stays down while its container retries it. The revert reaches the disk all the same,
    the server comes back, and an order written before is there."""
    wait_all_ready(shared_stack)
    order = write_order(shared_stack)
    fault = fault_for(shared_stack, lab_images, {"kind": "disk-full", "target": DB}, "test-disk-restart")
    try:
        fault.apply()
        shared_stack.container(DB).restart(timeout=5)
        state = fault.verify()
        assert state.applied, state.detail

        def down_for_want_of_space() -> None:
            logs = shared_stack.container(DB).logs(tail=20).decode(errors="replace")
            if 'could not write lock file "postmaster.pid": No space left on device' not in logs:
                raise NotYet(logs)

        Retrying(stop=stop_after_delay(15), wait=wait_fixed(0.2), retry=retry_if_exception_type(NotYet),
                 reraise=True)(down_for_want_of_space)
        seen = observe(shared_stack, APPS, 2, "/orders/1")
        assert all(failed(p) for name in APPS for p in seen[name][1:]), seen
    finally:
        outcome = fault.revert()
    assert "db: removed" in outcome, outcome
    assert not fault.verify().applied
    shared_stack.wait_healthy((DB,), timeout_s=30, poll_s=0.2)
    wait_all_ready(shared_stack)
    assert_order_readable(shared_stack, order)
    assert write_order(shared_stack) > order


def test_acknowledged_orders_outlive_a_sigkill_of_the_database(shared_stack: Stack) -> None:
    """The disk is held by db-disk, not by the database: a database killed outright (as a frozen one is when its
    restart times out) starts again on the same data."""
    wait_all_ready(shared_stack)
    order = write_order(shared_stack)
    database = shared_stack.container(DB)
    database.kill()
    database.wait(timeout=30)
    database.start()
    shared_stack.wait_healthy((DB,), timeout_s=30, poll_s=0.2)
    wait_all_ready(shared_stack)
    assert_order_readable(shared_stack, order)


def test_disk_full_refuses_a_filesystem_larger_than_its_bound(shared_stack: Stack, lab_images: LabImages) -> None:
    """Above max_size_mib (the built-in database's tmpfs holds 192 MiB) nothing is written: the apply fails with the
    reason and the fault is not in effect."""
    fault = fault_for(shared_stack, lab_images, {"kind": "disk-full", "target": DB, "max_size_mib": 100},
                      "test-disk-bound")
    try:
        with pytest.raises(FaultError, match=r"refused: the filesystem of /var/lib/postgresql/data holds 192 MiB, "
                                             r"more than max_size_mib \(100 MiB\)"):
            fault.apply()
        assert not fault.verify().applied
    finally:
        fault.remove()
