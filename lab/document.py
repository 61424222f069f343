"""The rules every part of a scenario document follows: frozen pydantic models that refuse unknown fields, the
field types they share (seconds, ratios, ports, service names), and the translation of pydantic's errors into
the lab's one-line problems ("timeline[3].at: must be at least 0, got -5").

One definition per model serves three uses: validation, the JSON Schema (`lab schema`) and `lab faults`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo
from pydantic_core import ErrorDetails


class DocumentModel(BaseModel):
    """A part of a scenario document: immutable once read, and every field it does not know is an error. Its fields'
    patterns are Rust's regular expressions, whose `$` is the end of the text: Python's also matches before a
    trailing newline, and `database: "all\n"` would have gone into a pg_hba.conf line as two."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, validate_default=False,
                              allow_inf_nan=False, regex_engine="rust-regex")


@dataclass(frozen=True)
class Topology:
    """What a scenario's service names are checked against (given to validation as its context)."""

    services: tuple[str, ...]
    databases: tuple[str, ...] = ()
    """Services that are PostgreSQL servers (the targets of the database fault families)."""
    apps: tuple[str, ...] = ()
    """Services whose JSON log lines the recorder follows."""
    tables: tuple[str, ...] = ()
    """Tables (schema.table) known to be in its databases before a run: a fault naming another one is refused.
    Empty when they are not known beforehand (a team's stack): the fault checks when it is applied."""
    balancers: tuple[str, ...] = ()
    """Services that are the lab's own HAProxy, with its runtime API (the http-error family's targets): the
    built-in stack's LB. A team's load balancer is not one: the lab cannot change its answers."""
    releases: tuple[str, ...] = ()
    """The releases a deploy may roll a service to (lab.stack.releases), `current` among them."""


def topology_of(info: ValidationInfo) -> Topology | None:
    context = info.context
    if isinstance(context, Mapping):
        found = context.get("topology")
        return found if isinstance(found, Topology) else None
    return None


def _known_service(value: str, info: ValidationInfo) -> str:
    topology = topology_of(info)
    if topology is not None and value not in topology.services:
        raise ValueError(f"unknown service {value!r} (known: {', '.join(topology.services)})")
    return value


def _service_in(role: str, group: str, none: str) -> Callable[[str, ValidationInfo], str]:
    """A validator: a known service must also be one of the topology's `group` (its databases, its balancers)."""

    def check(value: str, info: ValidationInfo) -> str:
        topology = topology_of(info)
        members: tuple[str, ...] = getattr(topology, group, ())
        if topology is not None and value in topology.services and value not in members:
            raise ValueError(f"{value!r} is not {role} ({group}: {', '.join(members) or none})")
        return value

    return check


ServiceName = Annotated[str, Field(min_length=1, description="A service of the stack (its Compose name)."),
                        AfterValidator(_known_service)]
DatabaseService = Annotated[ServiceName, AfterValidator(_service_in("a PostgreSQL service", "databases",
                                                                    "none in this stack"))]
BalancerService = Annotated[ServiceName, AfterValidator(_service_in(
    "the lab's HAProxy load balancer", "balancers", "none in this stack: a team's own cannot be changed by the lab"))]
AppService = Annotated[ServiceName, AfterValidator(_service_in("an app service", "apps", "none in this stack"))]


def _known_release(value: str, info: ValidationInfo) -> str:
    topology = topology_of(info)
    if topology is not None and topology.releases and value not in topology.releases:
        raise ValueError(f"unknown release {value!r} (releases: {', '.join(topology.releases)})")
    return value


ReleaseName = Annotated[str, Field(min_length=1, description="A release of the stack (`lab releases` lists them)."),
                        AfterValidator(_known_release)]
Seconds = Annotated[float, Field(strict=True, ge=0)]
PositiveSeconds = Annotated[float, Field(strict=True, gt=0)]
Ratio = Annotated[float, Field(strict=True, ge=0, le=1, description="A share between 0 and 1.")]
Port = Annotated[int, Field(strict=True, ge=1, le=65535)]
Text = Annotated[str, Field(strict=True)]
LONGEST_SHOWN = 10**21
"""A whole number from this on is shown by its count of digits: a 400-digit number would fill the line."""


# --- errors ---------------------------------------------------------------------------------------------------


def problems(error: ValidationError, tags: Mapping[str, str] | None = None) -> list[str]:
    """Every problem of a ValidationError as "field.path: what was wrong". `tags` maps discriminator values (fault
    kinds, step actions) that pydantic puts in the location, and the user never wrote, to their field's name."""
    lines: list[str] = []
    for detail in error.errors(include_url=False):
        if _short_only_of_valid_items(detail):
            continue
        line = problem_line(detail, tags or {})
        if line not in lines:
            lines.append(line)
    return lines


class FieldProblem(ValueError):
    """Raised by a model's own cross-field check: the problem belongs to `field` of that model."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def problem_line(detail: ErrorDetails, tags: Mapping[str, str]) -> str:
    # A discriminator's value stands right after the list item it chose (faults[0], timeline[2]): a field that
    # happens to share a tag's name (a fault kind's, an action's) is kept.
    parts = list(detail["loc"])
    is_tag = [isinstance(part, str) and part in tags and index > 0 and isinstance(parts[index - 1], int)
              for index, part in enumerate(parts)]
    tagged = [str(part) for part, tag in zip(parts, is_tag, strict=True) if tag]
    loc: list[int | str] = [part for part, tag in zip(parts, is_tag, strict=True) if not tag]
    # Pydantic names the member of a function-wrapped type ("function-after[...]"), never written by a user.
    loc = [part for part in loc if not (isinstance(part, str) and "[" in part and part.endswith("]"))]
    ctx = detail.get("ctx") or {}
    if isinstance(ctx.get("error"), FieldProblem):
        loc.append(ctx["error"].field)
    elif detail["type"] in ("union_tag_invalid", "union_tag_not_found"):
        loc.append(str(ctx.get("discriminator", "")).strip("'"))
    message = _message(detail)
    if detail["type"] == "union_tag_not_found":  # pydantic does not say which tags it knows: the caller's tags do
        known = [tag for tag, field in tags.items() if field == loc[-1]]
        message += f" (known: {', '.join(known)})" if known else ""
    if tagged and detail["type"] in ("missing", "extra_forbidden"):
        message += f" for {tags[tagged[-1]]} {tagged[-1]!r}"
    return f"{field_path(loc) or '(file)'}: {message}"


def _short_only_of_valid_items(detail: ErrorDetails) -> bool:
    """Pydantic counts a list's length after its items are validated: a list whose only item is invalid is also
    reported as too short, which it is not (the item's own problem says what is wrong with it)."""
    given, least = detail.get("input"), (detail.get("ctx") or {}).get("min_length", 0)
    return detail["type"] == "too_short" and isinstance(given, list | tuple) and len(given) >= int(least)


def field_path(loc: Iterable[int | str]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def type_name(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing", bool: "a boolean",
             int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return f"{value:g}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= LONGEST_SHOWN:
        return f"a number of {_digits(value)}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict | list):
        return type_name(value)
    return str(value)


def _digits(value: int) -> str:
    return f"{len(str(abs(value)))} digits"  # at most 4,300: lab.yaml_file refuses longer numbers


def _message(detail: ErrorDetails) -> str:
    kind, ctx, value = detail["type"], detail.get("ctx") or {}, detail.get("input")
    bounds = {
        "greater_than": ("must be greater than", "gt"), "greater_than_equal": ("must be at least", "ge"),
        "less_than": ("must be less than", "lt"), "less_than_equal": ("must be at most", "le"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"{words} {_shown(ctx.get(key))}, got {_shown(value)}"
    if kind == "finite_number":
        return f"must be a finite number, got {value}"
    if kind in ("float_type", "float_parsing", "int_type", "int_parsing", "int_from_float"):
        if kind == "int_from_float" or (isinstance(value, float) and kind.startswith("int")):
            return f"must be a whole number, got {_shown(value)}"
        if isinstance(value, int) and not isinstance(value, bool):  # a whole number too large for a float
            largest = f"{sys.float_info.max:.2g}"
            return f"must be a number between -{largest} and {largest}, got one of {_digits(value)}"
        return f"must be a number, got {type_name(value)}"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind in ("string_type", "string_too_short"):
        return f"must be a non-empty string, got {type_name(value) if kind == 'string_type' else 'an empty one'}"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx.get('pattern')}, got {_shown(value)}"
    if kind in ("list_type", "tuple_type"):
        return f"must be a list, got {type_name(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type", "dataclass_type"):
        return f"must be a mapping, got {type_name(value)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, got {_shown(value)}"
    if kind == "literal_error":
        return f"unknown value {_shown(value)} (known: {ctx.get('expected', '')})"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        if kind == "union_tag_not_found":
            return "is required"
        known = str(ctx.get("expected_tags", "")).replace("'", "")
        return f"unknown value {_shown(ctx.get('tag'))} (known: {known})"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", detail["msg"]))
    if kind in ("too_short", "too_long"):
        count = int(ctx.get("min_length", ctx.get("max_length", 0)))
        return f"must list {'at least' if kind == 'too_short' else 'at most'} {count} item{'s' * (count != 1)}"
    return f"{detail['msg'][0].lower()}{detail['msg'][1:]}"
