"""What a fault family is: its parameters (a FaultSpec subclass, validated with the scenario) and the helpers it
needs (HelperPlan: the shell functions apply / revert / verify, and the namespaces and capabilities they run
with). Everything else, the armed start, the time-to-live, the dead-man switch and the label checks, is shared
(lab.faults.helper), so a new family is one module that names none of it.

A family whose change is the stack's own definition (a release deployed through Compose) has no helper: it builds
its fault itself (`build`, a FaultHandle acting from the lab's process), and its dead-man switch is the stack's,
which goes with the lab."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, get_args

import docker
from pydantic import Field, field_validator, model_validator

from lab.document import DocumentModel, FieldProblem, PositiveSeconds, ServiceName
from lab.stack.knobs import StackKnobs

if TYPE_CHECKING:
    from lab.errors import FaultError
    from lab.stack.deploy import Deployed

FAULT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class FaultSpec(DocumentModel):
    """The fields every fault has; a family's spec adds its own parameters and fixes `kind`."""

    id: str = Field(description="Names the fault in the timeline (lowercase letters, digits and dashes).")
    kind: str = Field(description="The fault family (`lab faults` lists them).")
    target: ServiceName = Field(description="The service the fault is put on.")
    ttl_s: PositiveSeconds | None = Field(
        None, le=86400, description="Seconds after its apply at which the fault removes itself on the Docker side "
                                    "should the lab be gone (default: the latest the run or drill can end after "
                                    "the apply, + 60 s).")
    description: str = Field("", description="What the fault is, in the incident's words (shown in debriefs).")

    peer: ClassVar[str | None] = None
    """The family's field naming the other service the fault is about (destination, client): not the target."""

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not FAULT_ID.fullmatch(value):  # match() lets `$` stop before a trailing newline
            raise ValueError(f"must be lowercase letters, digits and dashes (at most 40), got {value!r}")
        return value

    @model_validator(mode="after")
    def _peer_is_elsewhere(self) -> FaultSpec:
        if self.peer is not None and getattr(self, self.peer) == self.target:
            raise FieldProblem(self.peer, "must differ from the target")
        return self

    def onset_s(self, knobs: StackKnobs) -> float:
        """How long after its apply the built-in stack, as `knobs` set it, shows the fault to every request. Most
        families meet the next request; one whose effect waits for something the stack does later (a name looked
        up again when a connection is renewed) says how long that takes."""
        return 0.0


@dataclass(frozen=True)
class FaultState:
    applied: bool
    detail: str


@dataclass(frozen=True)
class HelperPlan:
    """One helper container of a fault. Its `script` defines three bash functions that read their parameters from
    the environment (never from text pasted into the script):
      apply   put the fault in place (exit 0), or fail (any other code, output says why);
      revert  remove it (exit 0), say it was not there (exit 1), or fail (other); idempotent;
      verify  print what it sees; exit 0 if the fault is in effect, 1 if not, other codes if it cannot tell.
    It may define a fourth:
      hold    run about every half second while the fault is applied, its output unread: for a fault that must
              keep acting to stay in effect (a limit the kernel takes only once the target's usage allows it).
    """

    name: str
    """What it acts on, unique within the fault (usually a service name): part of the container's name."""
    script: str
    image: str
    env: Mapping[str, str] = field(default_factory=dict)
    cap_add: tuple[str, ...] = ()
    network_of: str | None = None
    """Service whose network namespace the helper joins (its namespace as it is when the helper starts)."""
    pid_of: str | None = None
    """Service whose PID namespace the helper joins (to signal its processes)."""
    network: str | None = None
    """Docker network the helper is attached to instead (to reach services by name; survives their restarts)."""
    volumes_of: str | None = None
    """Service whose volumes the helper mounts at the same paths (its data files)."""
    files_of: str | None = None
    """Service whose files the helper reaches through its PID 1's root (`/proc/1/root`: it joins the service's PID
    namespace for that alone). What it changes there outlives a restart of the service, unlike a process or a
    network namespace: a stopped service does not mean the fault went."""
    user: str | None = None
    engine: bool = False
    """The helper gets the Docker engine's socket (as the run's reaper has it) to change the target's settings
    through the engine's API, as `docker update` does: only the target's container, by id, labels checked first."""

    @property
    def pid_namespace_of(self) -> str | None:
        """Service whose PID namespace the helper joins, for its processes or for its files."""
        return self.pid_of or self.files_of

    @property
    def joins(self) -> str | None:
        """Service whose namespaces the helper joins (a restart of it leaves the helper in the old ones)."""
        return self.network_of or self.pid_namespace_of


class FaultTarget:
    """What a family may ask of the stack while it plans its helpers: label-checked containers, addresses, images
    and database credentials. Implemented by lab.faults.helper.StackTarget on a real stack."""

    client: docker.DockerClient
    run_id: str
    project: str
    tools_image: str

    def container(self, service: str) -> Any:
        raise NotImplementedError

    def address(self, service: str, seen_from: str) -> str:
        """`service`'s IP address on a network it shares with `seen_from`."""
        raise NotImplementedError

    def network_of(self, service: str) -> str:
        """The name of a Docker network `service` is attached to."""
        raise NotImplementedError

    def image_of(self, service: str) -> str:
        raise NotImplementedError

    def database_env(self, service: str) -> dict[str, str]:
        """PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGDATA for an administrator of database `service`."""
        raise NotImplementedError

    def deploy(self, service: str, release: str, wait_s: float) -> Deployed:
        """Roll `service` to `release` (lab.stack.releases); wait up to `wait_s` until it serves (lab.stack.deploy)."""
        raise NotImplementedError

    def release_of(self, service: str) -> str:
        """The release `service` runs now."""
        raise NotImplementedError


class FaultHandle(Protocol):
    """One fault of a run as the play uses it, whatever its family (lab.faults.fault.Fault for the helpers'
    families): applied, verified as observed, moved after a restart, reverted idempotently."""

    @property
    def spec(self) -> FaultSpec: ...

    def places(self) -> frozenset[str]:
        """The services whose namespaces or state hold the fault: only a step acting on one of them can remove it."""
        ...

    def prepare(self, arm_timeout_s: float) -> None: ...

    def apply(self) -> str: ...

    def follow(self) -> str: ...

    def verify(self) -> FaultState: ...

    def revert(self) -> str: ...

    def remove(self) -> tuple[str, FaultState | FaultError]: ...


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    required: bool
    default: Any
    description: str


def _type_words(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    """A field's JSON Schema in a few words: "integer 8..10000000", "blackhole | unreachable", "list of string"."""
    if "anyOf" in schema:
        return " or ".join(_type_words(option, defs) for option in schema["anyOf"] if option.get("type") != "null")
    if "enum" in schema:
        return " | ".join(str(value) for value in schema["enum"])
    if "const" in schema:
        return str(schema["const"])
    kind = str(schema.get("type", "value"))
    if kind == "array":
        return f"list of {_type_words(schema.get('items', {}), defs)}"
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if low is not None or high is not None:
        left = "" if low is None else f"{_number(low)}{'<' if 'exclusiveMinimum' in schema else '<='}"
        right = "" if high is None else f"{'<' if 'exclusiveMaximum' in schema else '<='}{_number(high)}"
        return f"{kind} {left}x{right}"
    return kind


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


Plan = Callable[[Any, FaultTarget, str], list[HelperPlan]]
"""(spec, target, mark) -> helpers. `mark` names the run and the fault: rules and lines carry it, and a revert
removes only what carries it."""
Build = Callable[[Any, FaultTarget], FaultHandle]
"""(spec, target) -> the fault, for a family that acts from the lab's process."""


@dataclass(frozen=True)
class FaultFamily:
    """A family as the registry knows it: its spec class (kind, parameters, docs) and how it plans helpers (`plan`),
    or, for one without helpers, how it builds its fault (`build`)."""

    spec: type[FaultSpec]
    mechanism: str
    """How it is done, in a few words (for `lab faults` and the README)."""
    user_sees: str
    """What a user of the app sees while it is in effect."""
    example: Mapping[str, Any]
    """A fault of this family on the built-in stack, in scenario terms (without id): shown by `lab faults`,
    applied by `make bench`."""
    plan: Plan | None = None
    build: Build | None = None

    def __post_init__(self) -> None:
        if (self.plan is None) == (self.build is None):
            raise ValueError(f"fault family {self.spec.__name__} needs a plan of helpers or a build, and only one")

    @property
    def kind(self) -> str:
        """The family's name, as its spec's `kind: Literal["..."]` says."""
        return str(get_args(self.spec.model_fields["kind"].annotation)[0])

    def parameters(self) -> list[Parameter]:
        """The family's own fields (beyond id, kind, target, ttl_s and description), from its JSON Schema."""
        schema = self.spec.model_json_schema(by_alias=True)
        common = {"id", "kind", "ttl_s", "description"}
        rows = []
        for name, field_schema in schema["properties"].items():
            if name in common or (name == "target" and "target" not in self.spec.__annotations__):
                continue
            rows.append(Parameter(name=name, type=_type_words(field_schema, schema.get("$defs", {})),
                                  required=name in schema.get("required", ()),
                                  default=field_schema.get("default"), description=field_schema.get("description", "")))
        return rows

    @property
    def summary(self) -> str:
        return (self.spec.__doc__ or "").strip().splitlines()[0] if self.spec.__doc__ else ""
