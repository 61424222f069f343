"""The real recordings of tests/fixtures/recordings, copied into a test's runs folder to be corrupted there, and the
edits the tests of broken recordings make to them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import yaml

RECORDINGS = Path(__file__).resolve().parent.parent / "fixtures" / "recordings"
PASS = "20261126T220157Z-db-network-misconfig"
WRONG_FIX = "20261126T223001Z-wrong-fix"
SEED = Path(__file__).resolve().parents[2] / "scenarios" / "db-network-misconfig.yaml"
EVENT_LINE = 5
"""A request of the passing run, well inside it."""


def copy_runs(tmp_path: Path) -> Path:
    """A runs folder holding copies of the passing run and the wrong fix's run."""
    target = tmp_path / "runs"
    for name in (PASS, WRONG_FIX):
        shutil.copytree(RECORDINGS / name, target / name)
    return target


def edit_event(run_dir: Path, number: int, edit: Callable[[dict[str, object]], object]) -> None:
    """Replace line `number` of events.jsonl with what `edit` makes of its event, as JSON."""
    path = run_dir / "events.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    lines[number - 1] = json.dumps(edit(json.loads(lines[number - 1]))) + "\n"
    path.write_text("".join(lines))


def make_variant_run(run_dir: Path, name: str, checks: dict[str, object]) -> None:
    """The recording as a run of a variant: the variant in its scenario.yaml, and its name where a run records
    it (run.started: lab.record.recorder)."""
    scenario_path = run_dir / "scenario.yaml"
    document = yaml.safe_load(scenario_path.read_text())
    document["variants"] = [{"name": name, "measure": "Page the on-call engineer louder", "checks": checks}]
    scenario_path.write_text(yaml.safe_dump(document, sort_keys=False))
    edit_event(run_dir, 1, lambda started: {**started, "variant": name})


def replace_with_a_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()
