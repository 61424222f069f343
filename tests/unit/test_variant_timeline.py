"""A variant's own timeline (a corrective measure played as it would have the incident go): checked as the
scenario's is, refused in one line naming its field, played in place of the scenario's; a variant's check section
given as false is not judged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.errors import InvalidInput, ScenarioError
from lab.judge.checks.amplification import KIND as AMPLIFICATION
from lab.judge.checks.detection import KIND as DETECTION
from lab.play.steps.deploy import DeployStep
from lab.scenario.reader import load, parse
from lab.scenario.shaping import played, with_variant
from lab.settings import PROJECT_ROOT
from tests.cli import lab_cli

GOOGLE = PROJECT_ROOT / "scenarios" / "google-2025-config-crash-loop.yaml"


def canary_document() -> tuple[dict[str, Any], dict[str, Any]]:
    """The Google scenario's document and its canary variant in it."""
    document: dict[str, Any] = yaml.safe_load(GOOGLE.read_text())
    return document, next(v for v in document["variants"] if v["name"] == "canary")


def test_the_canary_plays_its_own_timeline_and_drops_the_checks_it_makes_moot() -> None:
    """--variant canary: the push is its gated deploy, not the three applies; detection and amplification, which a
    contained canary cannot meet, are not judged; the scenario as written keeps its own."""
    scenario = load(GOOGLE)
    canary = with_variant(scenario, "canary")
    assert [step.action for step in canary.timeline] == ["deploy", "note", "note"]
    assert isinstance(canary.timeline[0], DeployStep) and canary.timeline[0].rolls_back
    assert [step.index for step in canary.timeline] == [0, 1, 2] and canary.timeline[1].clock == "10:55"
    assert canary.checks.section(DETECTION) is None and canary.checks.section(AMPLIFICATION) is None
    assert scenario.checks.section(DETECTION) is not None and scenario.checks.section(AMPLIFICATION) is not None
    assert [step.action for step in scenario.timeline][:3] == ["apply"] * 3


@pytest.mark.parametrize(("change", "expected"), [
    (lambda steps: steps[1].update(at=-1),
     "variants[1].timeline[1].at: must be at least 0, got -1"),
    (lambda steps: steps[2].update(at=5, clock="10:50"),
     "variants[1].timeline[2].at: 5 comes before the previous step's 10: steps must be in time order"),
    (lambda steps: steps[1].update(clock="10:56"),
     "variants[1].timeline[1].clock: 10:56 does not match incident_start + at (10:55)"),
    (lambda steps: steps.append({"at": 20, "action": "revert", "fault": "push-app-2"}),
     "variants[1].timeline[3].fault: fault 'push-app-2' is reverted without being applied first"),
])
def test_a_bad_variant_timeline_is_one_problem_naming_its_field(change: Any, expected: str) -> None:
    """Each mistake in a variant's timeline is found by the scenario's own rules, under the variant's path."""
    document, canary = canary_document()
    change(canary["timeline"])
    with pytest.raises(ScenarioError) as caught:
        parse(yaml.safe_dump(document), source="x.yaml")
    assert caught.value.problems == [expected]


def test_lab_validate_refuses_a_bad_variant_timeline_in_one_line_naming_the_file(tmp_path: Path) -> None:
    """`lab validate`: one line, the file and the variant's field, exit 2; the scenario as shipped validates."""
    document, canary = canary_document()
    canary["timeline"][2].update(at=5, clock="10:50")
    path = tmp_path / "google.yaml"
    path.write_text(yaml.safe_dump(document))
    result = lab_cli("validate", str(path))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0] == (f"lab: error: {path}: variants[1].timeline[2].at: 5 comes before the previous step's 10: "
                        "steps must be in time order")
    assert lab_cli("validate", str(GOOGLE)).returncode == 0


def test_a_runbook_file_cannot_replace_the_runbook_of_a_variant_with_its_own_timeline(tmp_path: Path) -> None:
    """--runbook with such a variant is refused before anything starts: the variant has no runbook steps of the
    scenario's to replace."""
    runbook = tmp_path / "runbook.yaml"
    runbook.write_text("steps: [{at: 40, action: deploy, services: [app-1], release: current}]\n")
    with pytest.raises(InvalidInput, match="variant canary plays its own timeline"):
        played(load(GOOGLE), runbook=runbook, variant="canary")
