"""What the integration tests share: running the real CLI, reading a run directory, finding leftovers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from lab import labels, lifecycle
from lab.settings import PROJECT_ROOT

SEED = PROJECT_ROOT / "scenarios" / "db-network-misconfig.yaml"
LAB = [sys.executable, "-m", "lab.cli"]


def lab_cli(*args: str, timeout: float = 900, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LAB, *args], capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, **(env or {})})


def start_lab(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([*LAB, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def summary_of(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "summary.json").read_text())


def events_of(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]


def checks_of(summary: dict[str, Any]) -> dict[str, bool]:
    return {check["name"]: check["passed"] for check in summary["checks"]}


def leftovers(engine: lifecycle.Engine, run_id: str) -> list[str]:
    selector = labels.run_filter(run_id)
    client = engine.client
    return (
        [c.name for c in client.containers.list(all=True, filters=selector)]
        + [n.name for n in client.networks.list(filters=selector)]
        + [v.name for v in client.volumes.list(filters=selector)]
    )


def variant(tmp_path: Path, edit: Any, name: str = "variant.yaml") -> Path:
    """The seed scenario with one change: variants stay in step with the scenario they test."""
    document = yaml.safe_load(SEED.read_text())
    for step in document["timeline"]:  # the copy lives elsewhere: its runbook scripts stay the seed's
        if "script" in step and not Path(step["script"]).is_absolute():
            step["script"] = str(SEED.parent.resolve() / step["script"])
    edit(document)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


class NotYet(Exception):
    """A condition a test waits for has not happened yet."""


def wait_for_event(run_dir: Path, kind: str, timeout_s: float = 180) -> dict[str, Any]:
    """The first event of `kind` in a recording that is still being written."""

    def find() -> dict[str, Any]:
        path = run_dir / "events.jsonl"
        found = next((e for e in (events_of(run_dir) if path.exists() else []) if e["kind"] == kind), None)
        if found is None:
            raise NotYet(kind)
        return found

    return Retrying(stop=stop_after_delay(timeout_s), wait=wait_fixed(0.2), retry=retry_if_exception_type(NotYet),
                    reraise=True)(find)
