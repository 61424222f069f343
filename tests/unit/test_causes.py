"""Cause classes without Docker: the seven classes defined once (field, schema, help), and a scenario's `cause`
checked like any field."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest
import yaml

from lab.errors import ScenarioError
from lab.scenario.causes import CAUSES, CAUSES_HELP, Cause
from lab.scenario.reader import parse
from lab.scenario.schema import json_schema
from lab.settings import BUILTIN_SCENARIOS

SEED = BUILTIN_SCENARIOS / "db-network-misconfig.yaml"


def seed_document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(SEED.read_text())
    document.update(changes)
    return document


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


def test_an_unknown_cause_is_one_problem_naming_its_field() -> None:
    """A class that is not one of the seven is refused with the field's path and the known classes."""
    with pytest.raises(ScenarioError) as caught:
        parse(yaml.safe_dump(seed_document(cause="cosmic-rays")), source="x.yaml")
    assert caught.value.problems == ["cause: unknown value 'cosmic-rays' (known: 'network', 'dns', 'database', "
                                     "'slowness', 'exhaustion', 'change' or 'load')"]
