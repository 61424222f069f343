"""Cause classes without Docker: the seven classes defined once (field, schema, help), a scenario's `cause` checked
like any field, left out by a team's own scenario, and `lab scenarios --cause` listing one class."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from lab.errors import ScenarioError
from lab.scenario.causes import CAUSES, CAUSES_HELP, Cause
from lab.scenario.library import entries, of_cause
from lab.scenario.reader import parse
from lab.scenario.schema import json_schema
from lab.settings import BUILTIN_SCENARIOS, PROJECT_ROOT
from tests.cli import lab_cli

SEED = BUILTIN_SCENARIOS / "db-network-misconfig.yaml"


def seed_document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(SEED.read_text())
    document.update(changes)
    return document


def write_scenario(directory: Path, name: str, **changes: Any) -> None:
    (directory / f"{name}.yaml").write_text(yaml.safe_dump(seed_document(name=name, **changes)))


def test_the_seven_classes_are_one_definition() -> None:
    """The field's choices, the JSON Schema's enum and the help's lines are the seven classes of CAUSES, in order,
    each with its meaning."""
    assert tuple(CAUSES) == get_args(Cause) == (
        "network", "dns", "database", "slowness", "exhaustion", "change", "load")
    field = json.loads(json_schema())["properties"]["cause"]
    assert field["anyOf"][0]["enum"] == list(CAUSES)
    for name, meaning in CAUSES.items():
        assert name in field["description"] and meaning in field["description"]
        assert f"  {name} " in CAUSES_HELP and meaning.split()[-1] in CAUSES_HELP
    assert max(len(line) for line in CAUSES_HELP.splitlines()) <= 80


def test_the_readme_tables_the_seven_classes_as_defined() -> None:
    """The README's table of cause classes says what CAUSES says, row by row, in its order."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    rows = [f"| `{name}` | {meaning} |" for name, meaning in CAUSES.items()]
    assert all(row in readme for row in rows), [row for row in rows if row not in readme]
    assert [readme.index(row) for row in rows] == sorted(readme.index(row) for row in rows)


def test_an_unknown_cause_is_one_problem_naming_its_field() -> None:
    """A class that is not one of the seven is refused with the field's path and the known classes."""
    with pytest.raises(ScenarioError) as caught:
        parse(yaml.safe_dump(seed_document(cause="cosmic-rays")), source="x.yaml")
    assert caught.value.problems == ["cause: unknown value 'cosmic-rays' (known: 'network', 'dns', 'database', "
                                     "'slowness', 'exhaustion', 'change' or 'load')"]


def test_a_teams_own_scenario_may_leave_its_cause_out_and_is_listed_with_a_dash(tmp_path: Path) -> None:
    """No `cause`: valid, None, shown as "-" in `lab scenarios` (under the difficulty), and in no one class."""
    document = seed_document(name="ours")
    del document["cause"]
    (tmp_path / "ours.yaml").write_text(yaml.safe_dump(document))
    found = entries((tmp_path,))
    assert found[0].scenario is not None and found[0].scenario.cause is None
    assert of_cause(found, "network") == [] and of_cause(found, None) == found
    listed = lab_cli("scenarios", env={"LAB_SCENARIOS_DIR": str(tmp_path), "COLUMNS": "200"})
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    index = next(index for index, line in enumerate(lines) if line.startswith("ours "))
    assert lines[index].split()[1] == "easy" and lines[index + 1].split()[-1] == "-"


def test_lab_scenarios_cause_lists_that_class_only(tmp_path: Path) -> None:
    """`--cause dns` lists the dns scenarios, a team's and the library's, and none of another class or of none; the
    cause is under the difficulty, on the line after the name's."""
    write_scenario(tmp_path, "our-dns", cause="dns")
    write_scenario(tmp_path, "our-load", cause="load")
    write_scenario(tmp_path, "our-unfiled", cause=None)
    listed = lab_cli("scenarios", "--cause", "dns", env={"LAB_SCENARIOS_DIR": str(tmp_path), "COLUMNS": "200"})
    assert listed.returncode == 0, listed.stderr
    every_name = {entry.name for entry in entries((tmp_path, BUILTIN_SCENARIOS))}
    lines = listed.stdout.splitlines()
    rows = {line.split()[0]: lines[index + 1].split()[-1] for index, line in enumerate(lines)
            if line.split()[:1] and line.split()[0] in every_name}
    assert rows == {"our-dns": "dns", "aws-2025-dynamodb-dns": "dns", "azure-2019-dns-nxdomain": "dns"}


def test_an_unknown_cause_option_is_a_usage_error() -> None:
    """`--cause` is one of the seven, as click checks a choice: exit 2, the known classes named."""
    for command in (["scenarios"], ["drill", "--random"], ["gameday"]):
        refused = lab_cli(*command, "--cause", "cosmic")
        assert refused.returncode == 2, (command, refused.stderr)
        assert "'cosmic' is not one of 'network', 'dns'" in refused.stderr
