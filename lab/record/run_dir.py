"""The run directory: where a recording goes (`runs/<utc>-<what ran>` unless --out says), made or refused in one line
before anything starts, and the scenario as played kept in it (`scenario.yaml`)."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import yaml

from lab.errors import InvalidInput
from lab.scenario.document import Scenario

STAMPED_NAME = re.compile(r"\d{8}T\d{6}Z-(?P<subject>.+)")
"""A run directory named by the lab (`new_run_dir`); one given with --out may be named anything."""


def new_run_dir(runs_dir: Path, subject: str) -> Path:
    """Where a recording goes in the runs folder unless --out says: named by its UTC start, then what ran
    (`scenario_subject`, "drill-...", "gameday"), so that names sort by time and say what they hold."""
    return runs_dir / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{subject}"


def scenario_subject(scenario: str, variant: str | None) -> str:
    return f"{scenario}-{variant}" if variant else scenario


def named_subject(name: str) -> str | None:
    """What a run directory named by the lab holds (`new_run_dir`); None for a name it was given."""
    stamped = STAMPED_NAME.fullmatch(name)
    return stamped["subject"] if stamped else None


def check_run_dir(path: Path) -> None:
    """Say in one line why `path` cannot become the run directory, creating nothing: a bad --out is invalid input,
    found before Docker is asked anything."""
    problem = uncreatable(path)
    if problem is not None:
        raise InvalidInput(f"cannot write the run directory {path}: {problem}")


def uncreatable(path: Path) -> str | None:
    """Why `path` (or, if it exists, what goes in it) cannot be created, creating nothing: the nearest ancestor that
    exists decides whether the rest can be; None if it can."""
    existing = path
    try:
        while not existing.exists():
            existing = existing.parent
    except OSError as exc:  # a name longer than the system's limit, say
        return exc.strerror or str(exc)
    if not existing.is_dir():
        return f"{existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    return None


def prepare_run_dir(path: Path) -> Path:
    """Create the run directory, or say in one line why it cannot be written (before anything starts)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".writable"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise InvalidInput(f"cannot write the run directory {path}: {exc.strerror or exc}") from exc
    return path


def write_scenario(run_dir: Path, scenario: Scenario) -> None:
    """The scenario as played (its pace with the speed applied, its rate, its runbook), beside the recording: what the
    recording is judged by, wherever it is read."""
    document = dict(scenario.document)
    document["time"] = {**(document.get("time") or {}),
                        "seconds_per_incident_minute": scenario.time.seconds_per_incident_minute}
    if scenario.time.pace:
        document["time"]["pace"] = [change.model_dump(by_alias=True) for change in scenario.time.pace]
    document["traffic"] = {**(document.get("traffic") or {}), "rate": scenario.traffic.rate}
    if scenario.stack is not None:  # the recording lives elsewhere: its paths must not depend on where it is
        document["stack"] = {**document["stack"], "compose_file": scenario.stack.compose_file}
    document["timeline"] = [
        {**raw, "script": str(scenario.base_dir / raw["script"])}
        if isinstance(raw, dict) and isinstance(raw.get("script"), str) else raw
        for raw in document.get("timeline") or []]
    header = f"# scenario {scenario.name} as run (speed {scenario.speed:g}x)\n"
    (run_dir / "scenario.yaml").write_text(header + yaml.safe_dump(document, sort_keys=False))
