"""The incident library as shipped, without Docker: every scenario file is a complete replay of a public postmortem
(source, difficulty, summary, differences, a fault, checks, drill hints), its runbook scripts are there, and
`lab scenarios` lists them all."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lab.judge.checks.impact import KIND as IMPACT
from lab.judge.checks.steady_state import KIND as STEADY_STATE
from lab.play.preflight import check_scripts
from lab.play.steps.apply import ApplyStep
from lab.scenario.causes import CAUSES
from lab.scenario.reader import load
from lab.settings import BUILTIN_SCENARIOS
from tests.cli import lab_cli

LIBRARY = sorted(BUILTIN_SCENARIOS.glob("*.yaml"))
PUBLIC = [path for path in LIBRARY if path.stem != "db-network-misconfig"]  # the seed's postmortem ships with it


@pytest.mark.parametrize("path", LIBRARY, ids=[path.stem for path in LIBRARY])
def test_every_scenario_of_the_library_is_a_complete_replay(path: Path) -> None:
    """Valid, and declares (not defaults) its source, difficulty, summary, differences, at least one fault that the
    timeline applies at minute 0, checks, corrective measures and drill hints; its runbook scripts are executable."""
    scenario = load(path)
    document = yaml.safe_load(path.read_text())
    for field in ("source", "difficulty", "summary", "differences", "corrective_measures"):
        assert document.get(field), f"{path.name}: {field} is not declared"
    assert scenario.name == path.stem
    assert scenario.faults and scenario.drill.hints
    assert any(isinstance(step, ApplyStep) and step.at_minutes == 0 for step in scenario.timeline)
    assert scenario.timeline[0].clock == scenario.time.incident_start
    assert scenario.checks.section(STEADY_STATE) is not None and scenario.checks.section(IMPACT) is not None
    check_scripts(scenario)


@pytest.mark.parametrize("path", LIBRARY, ids=[path.stem for path in LIBRARY])
def test_every_scenario_of_the_library_declares_its_cause(path: Path) -> None:
    """A team's own scenario may leave its cause class out; the library's each declare one, right after their
    difficulty, so that `lab scenarios --cause` and `lab drill --random --cause` find them."""
    document = yaml.safe_load(path.read_text())
    assert document.get("cause") in CAUSES, f"{path.name}: cause is not declared"
    keys = list(document)
    assert keys[keys.index("difficulty") + 1] == "cause", path.name
    assert load(path).cause == document["cause"]


@pytest.mark.parametrize("path", PUBLIC, ids=[path.stem for path in PUBLIC])
def test_a_public_incident_cites_its_postmortem_by_url(path: Path) -> None:
    """A public postmortem is cited by its address; the lab's own reading of it is the summary's, in quotes."""
    scenario = load(path)
    assert scenario.source.startswith("https://"), scenario.source
    assert '"' in scenario.summary, "the summary quotes the postmortem's own words"


def test_every_variant_proves_a_corrective_measure_of_its_scenario() -> None:
    """A variant's measure is one of the scenario's corrective measures, and it changes the stack, the users'
    clients' retries, the monitoring (Prometheus's rules) or the incident's own timeline (a change rolled out as the
    measure would have it)."""
    for path in LIBRARY:
        scenario = load(path)
        for variant in scenario.variants:
            assert variant.measure in scenario.corrective_measures, (path.name, variant.name)
            changes_stack = variant.knobs.applied_to(scenario.knobs) != scenario.knobs
            changes_retries = variant.retry is not None and variant.retry != scenario.traffic.retry
            changes_monitoring = variant.observe is not None and variant.observe != scenario.observe
            changes_timeline = variant.timeline is not None and variant.timeline != scenario.timeline
            assert changes_stack or changes_retries or changes_monitoring or changes_timeline, (path.name, variant.name)


def test_lab_scenarios_lists_the_whole_library() -> None:
    """Eight or more incidents, each listed by name with its difficulty; none of them invalid."""
    assert len(LIBRARY) >= 8
    listed = lab_cli("scenarios", env={"COLUMNS": "250", "LAB_SCENARIOS_DIR": ""})
    assert listed.returncode == 0, listed.stderr
    assert "invalid" not in listed.stdout
    for path in LIBRARY:
        assert path.stem in listed.stdout
