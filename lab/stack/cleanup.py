"""The one removal of a run from the lab's side (`remove_run`): its resources on the engine (lab.stack.removal, the
reaper's own algorithm), its reaper dismissed last, its scratch directory on this host. A run's end, `lab down`,
`lab clean` and the removal of dead runs' leftovers that every lab command does first all come here."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker

from lab.errors import EngineLost
from lab.stack import removal
from lab.stack.docker_api import ENGINE_ERRORS, SdkEngine
from lab.stack.owners import OWNER_FILE, owner_alive
from lab.stack.reaper import Reaper
from lab.stack.runs import dead_runs, owners_by_run, pick_run, running_run_ids
from lab.stack.scratch import scratch_directory, scratch_root


def remove_run(client: docker.DockerClient, run_id: str, reaper: Reaper | None = None) -> None:
    """Remove everything carrying the run's labels, then its reaper (if it has one here: until then it still removes
    what is left should this process die meanwhile), then its scratch directory. Not `compose down`: that stops
    each service gracefully first, time spent waiting for containers whose recording is already closed."""
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="remove") as pool:
        try:
            removal.remove_run(SdkEngine(client), run_id, spare_reaper=reaper is not None, parallel=pool.map)
        except ENGINE_ERRORS as exc:
            raise EngineLost(f"cannot remove run {run_id}: the Docker engine is not answering; the first lab command "
                             "run once it is back removes it") from exc
    if reaper is not None:
        reaper.dismiss()
    shutil.rmtree(scratch_directory(run_id), ignore_errors=True)


def take_down(client: docker.DockerClient, run_id: str | None) -> str:
    """`lab down`: the run named, or the only one."""
    chosen = pick_run(client, run_id)
    remove_run(client, chosen)
    return chosen


def clean_all(client: docker.DockerClient, force: bool = False) -> tuple[list[str], list[str]]:
    """`lab clean`: remove the lab's runs on this engine. A run whose lab process is still alive is skipped unless
    `force`: it may be another terminal's replay. Returns (removed, skipped)."""
    owners = owners_by_run(client)
    runs = running_run_ids(client)
    skipped = [run_id for run_id in runs if not force and run_id in owners and owner_alive(owners[run_id])]
    removed = [run_id for run_id in runs if run_id not in skipped]
    for run_id in removed:
        remove_run(client, run_id)
    return removed, skipped


def reap_dead_runs(client: docker.DockerClient) -> list[str]:
    """Remove every run whose owner process is gone (a `lab run` killed with SIGKILL whose reaper could not finish),
    and the scratch directories of dead runs on this host (their reapers removed what they had on the engine, not
    these). Returns the runs removed from the engine."""
    reaped = dead_runs(client)
    for run_id in reaped:
        remove_run(client, run_id)
    remove_dead_scratch(scratch_root())
    return reaped


def remove_dead_scratch(root: Path) -> list[str]:
    """Remove the scratch directories under `root` whose owner process is gone, and say which went. A directory
    without an owner file is not one of these, and stays."""
    removed = []
    for owner_file in sorted(root.glob(f"*/{OWNER_FILE}")):
        try:
            token = owner_file.read_text().strip()
        except OSError:
            continue
        if not owner_alive(token):
            shutil.rmtree(owner_file.parent, ignore_errors=True)
            removed.append(owner_file.parent.name)
    return removed
