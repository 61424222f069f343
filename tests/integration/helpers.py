"""What the integration tests share: running the real CLI, reading a run directory, finding leftovers."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import yaml
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from lab.settings import PROJECT_ROOT
from lab.stack import labels
from lab.stack.engine import Engine
from lab.stack.labels import project_name
from tests.cli import start_lab

T = TypeVar("T")

SEED = PROJECT_ROOT / "scenarios" / "db-network-misconfig.yaml"




@contextmanager
def running_lab(*args: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    """start_lab, and SIGKILL it if the test ends while it still runs (its fault helpers and reaper then clean up),
    so that a failing test does not leave a run going on the shared engine."""
    process = start_lab(*args, env=env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def summary_of(run_dir: Path) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    return summary


def events_of(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]


def checks_of(summary: dict[str, Any]) -> dict[str, bool]:
    return {check["name"]: check["passed"] for check in summary["checks"]}


def leftovers(engine: Engine, run_id: str) -> list[str]:
    selector = labels.run_filter(run_id)
    client = engine.client
    return (  # the engine's listing, no per-container inspection: a container going away meanwhile is no error
        [c["Names"][0].lstrip("/") for c in client.api.containers(all=True, filters=selector)]
        + [n.name for n in client.networks.list(filters=selector)]
        + [v.name for v in client.volumes.list(filters=selector)]
        # images Compose would have named after the run's project (a team's built services are tagged once per file)
        + [tag for image in client.images.list(filters={"reference": f"{project_name(run_id)}-*"})
           for tag in image.tags]
    )


CI_TIME = {"steady_state_s": 6, "tail_s": 5}
"""The seed's steady state and tail (15 s each as shipped) for tests: the checks need a few seconds of each (80
requests of steady state, the recovery window after the fix), not the quarter-minute a person watches."""


def variant(tmp_path: Path, edit: Any, name: str = "variant.yaml") -> Path:
    """The seed scenario with one change (and the tests' shorter steady state and tail): variants stay in step with
    the scenario they test."""
    document = yaml.safe_load(SEED.read_text())
    document["time"].update(CI_TIME)
    tmp_path.mkdir(parents=True, exist_ok=True)
    for step in document["timeline"]:  # a script must sit beside the file naming it: the copy takes the seed's
        if "script" in step:
            copy = tmp_path / step["script"]
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(SEED.parent / step["script"], copy)
    edit(document)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def seed(tmp_path: Path) -> str:
    """The seed scenario as the tests play it: its own name, the tests' steady state and tail."""
    return str(variant(tmp_path, lambda document: None, name="db-network-misconfig.yaml"))


class NotYet(Exception):
    """A condition a test waits for has not happened yet."""


def wait_until(condition: Callable[[], T | None], what: str, timeout_s: float = 180) -> T:
    """The first value of `condition()` that is not None, polled every 0.2 s; NotYet(what) after the timeout."""

    def value() -> T:
        found = condition()
        if found is None:
            raise NotYet(what)
        return found

    return Retrying(stop=stop_after_delay(timeout_s), wait=wait_fixed(0.2), retry=retry_if_exception_type(NotYet),
                    reraise=True)(value)


def wait_for(run_dir: Path, matches: Callable[[dict[str, Any]], bool], what: str, timeout_s: float = 180,
             process: subprocess.Popen[str] | None = None) -> dict[str, Any]:
    """The first event that `matches` in a recording that is still being written; if the `process` writing it
    ends first, an AssertionError with its output (rather than a wait until the timeout)."""
    path = run_dir / "events.jsonl"

    def find() -> dict[str, Any] | None:
        found = next((e for e in (events_of(run_dir) if path.exists() else []) if matches(e)), None)
        if found is None and process is not None and process.poll() is not None:
            stdout, stderr = process.communicate()
            raise AssertionError(f"the lab process ended (exit {process.returncode}) before {what}:\n"
                                 f"{stdout[-2000:]}{stderr[-2000:]}")
        return found

    return wait_until(find, what, timeout_s)


def wait_for_event(run_dir: Path, kind: str, timeout_s: float = 180,
                   process: subprocess.Popen[str] | None = None) -> dict[str, Any]:
    """The first event of `kind` in a recording that is still being written (see wait_for)."""
    return wait_for(run_dir, lambda event: event["kind"] == kind, kind, timeout_s, process)
