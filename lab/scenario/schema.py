"""The scenario file's schema: the Scenario model with its faults typed as the union of every registered fault
family's spec (families may come from plugins, so it is built when first asked for), and its JSON Schema for
editors and CI (`lab schema`)."""

from __future__ import annotations

import json
from functools import cache
from typing import Annotated, Any, Union

from pydantic import Field, create_model

from lab.faults import families
from lab.play.steps import action_of, step_kinds
from lab.scenario.document import Scenario


@cache
def document_model() -> type[Scenario]:
    """The Scenario model with `faults` typed as the union of every registered family's spec (tagged by kind)."""
    specs = tuple(family.spec for family in families().values())
    member: Any = specs[0] if len(specs) == 1 else Annotated[Union[specs], Field(discriminator="kind")]  # noqa: UP007
    model: type[Scenario] = create_model("Scenario", __base__=Scenario, __module__=__name__,
                                         faults=(tuple[member, ...], ()))
    return model


def json_schema() -> str:
    """The JSON Schema of scenario files (every registered family's parameters included)."""
    document = document_model().model_json_schema(by_alias=True)
    document = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "outage-lab scenario",
                **{key: value for key, value in document.items() if key != "title"}}
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def discriminators() -> dict[str, str]:
    """Values that tag a union member in pydantic's error locations (never written by a user as a key), and the
    field that holds them."""
    return {**{kind: "kind" for kind in families()}, **{action_of(kind): "action" for kind in step_kinds()}}
