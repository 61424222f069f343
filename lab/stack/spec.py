"""Which stack a scenario runs on: the built-in one (PostgreSQL, three orders app replicas, HAProxy), or a team's
own Compose file, named in the scenario's `stack:` section with what the lab needs to know about it: the entry
point synthetic users call, the header that names the replica that served them, the PostgreSQL services and how
an administrator logs in to them (environment variable names, never values), and which logs carry app errors.

The team's file is never edited: the lab adds its labels, ownership and host ports through an override file it
generates (`override()`), so every container, network and volume it creates is found and removed by label.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationInfo, field_validator, model_validator

from lab.document import DocumentModel, FieldProblem, Port, ServiceName, Topology
from lab.settings import BUILTIN_COMPOSE_FILE
from lab.stack import labels
from lab.stack.topology import ComposeTopology


class Entry(DocumentModel):
    service: ServiceName = Field(description="The service synthetic users call (a load balancer, or an app).")
    port: Port = Field(description="Its container port (the lab publishes it on a free port of 127.0.0.1).")


class DatabaseAccess(DocumentModel):
    service: ServiceName = Field(description="A PostgreSQL service of the stack.")
    port: Port = 5432
    dbname: str = Field(min_length=1, description="The database the apps use.")
    user_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                 description="Environment variable holding an administrator's user name.")
    password_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                     description="Environment variable holding that administrator's password "
                                                 "(read when the run starts, never printed).")
    data_dir: str = Field("/var/lib/postgresql/data",
                          description="PGDATA in the container, as PGDATA in the database families' helpers (they "
                                      "ask the server where its pg_hba.conf is: `SHOW hba_file`).")


class AppLogs(DocumentModel):
    services: tuple[ServiceName, ...] = Field(min_length=1, description="The services whose logs carry app errors.")
    format: Literal["lines", "lab-json"] = Field(
        "lines", description="lines: every line matching error_pattern is an app error; lab-json: the built-in "
                             "app's JSON lines with the exact exception class.")
    error_pattern: str = Field("(?i)(error|exception|fatal|refused|timeout)",
                               description="A regular expression for lines that are errors.")

    @field_validator("error_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"is not a regular expression: {exc}") from None
        return value


class StackSpec(DocumentModel):
    compose_file: str = Field(min_length=1, description="The team's Compose file, relative to the scenario file.")
    entry: Entry
    served_by_header: str | None = Field(None, description="A response header naming the replica that served it.")
    databases: tuple[DatabaseAccess, ...] = ()
    app_logs: AppLogs | None = None
    wait: tuple[ServiceName, ...] = Field((), description="Services to wait for before traffic starts (healthy if "
                                                          "they have a health check, else running); default: all.")
    wait_timeout_s: float = Field(180.0, strict=True, gt=0, le=3600,
                                  description="How long the stack may take to be ready (its images built before).")

    @model_validator(mode="after")
    def _entry_port_is_the_services(self, info: ValidationInfo) -> StackSpec:
        compose = info.context.get("compose") if isinstance(info.context, dict) else None
        if isinstance(compose, ComposeTopology) and self.entry.service in compose.services:
            ports = compose.services[self.entry.service].ports
            if self.entry.port not in ports:
                raise FieldProblem("entry", f"port {self.entry.port} is not one {self.entry.service} publishes or "
                                            f"exposes in {compose.file.name} ({', '.join(map(str, ports)) or 'none'})")
        return self

    @property
    def builtin(self) -> bool:
        return Path(self.compose_file) == BUILTIN_COMPOSE_FILE

    def topology(self, compose: ComposeTopology) -> Topology:
        """The names validation checks a scenario against."""
        return Topology(services=tuple(compose.services), databases=tuple(d.service for d in self.databases),
                        apps=self.app_logs.services if self.app_logs else ())

    def resolved(self, base_dir: Path) -> StackSpec:
        """The same with the Compose file's path made absolute (it is relative to the scenario file)."""
        path = Path(self.compose_file)
        return self if path.is_absolute() else self.model_copy(update={"compose_file": str(base_dir / path)})


BUILTIN_APPS = ("app-1", "app-2", "app-3")
BUILTIN_STACK = StackSpec(
    compose_file=str(BUILTIN_COMPOSE_FILE), entry=Entry(service="lb", port=80), served_by_header="X-Served-By",
    databases=(DatabaseAccess(service="db", dbname="orders"),),
    app_logs=AppLogs(services=BUILTIN_APPS, format="lab-json"))


def override(spec: StackSpec, compose: ComposeTopology, run_id: str, owner: str, host_ports: dict[str, int]) -> \
        dict[str, Any]:
    """The Compose override that makes a stack the lab's: its labels on every service, network and volume the file
    creates; the entry and database ports published on the free 127.0.0.1 ports picked for them (stable across
    restarts); every other published port of a team's file dropped (two runs, or the team's own dev stack, would
    otherwise fight over fixed host ports)."""
    run_labels = {**labels.run_labels(run_id, labels.ROLE_STACK), labels.OWNER: owner}
    published = {spec.entry.service: spec.entry.port, **{d.service: d.port for d in spec.databases}}
    services: dict[str, Any] = {}
    for name in compose.services:
        service: dict[str, Any] = {"labels": run_labels}
        if name in published:
            service["ports"] = OverrideTag([f"127.0.0.1:{host_ports[name]}:{published[name]}"])
        elif not spec.builtin:
            service["ports"] = ResetTag([])
        if compose.services[name].built and compose.services[name].image is None:
            service["image"] = built_image_tag(compose.file, name)
        services[name] = service
    document: dict[str, Any] = {"services": services}
    network_labels = {**labels.run_labels(run_id, labels.ROLE_STACK), labels.OWNER: owner}
    document["networks"] = {name: {"labels": network_labels} for name in (*compose.networks, "default")}
    if compose.volumes:
        document["volumes"] = {name: {"labels": network_labels} for name in compose.volumes}
    return document


def built_image_tag(compose_file: Path, service: str) -> str:
    """The tag a team's built service gets when its file names none. Compose would name the image after the run's
    project, a new image per run that nobody removes; this one is the same for every run of the same file, so a
    rebuild reuses its layers and takes its tag (a build whose inputs changed leaves the previous one untagged, as
    any rebuild does: `docker image prune` removes those)."""
    path = compose_file.resolve()
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
    directory = re.sub(r"[^a-z0-9_.-]+", "-", path.parent.name.lower()).strip("-._") or "stack"
    return f"outage-lab/own-{directory}-{digest}-{service.lower()}:latest"


def override_yaml(document: dict[str, Any]) -> str:
    """The override as YAML, with Compose's `!override` and `!reset` tags where its lists must replace the base's."""

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(OverrideTag, lambda dumper, data: dumper.represent_sequence("!override", list(data)))
    Dumper.add_representer(ResetTag, lambda dumper, data: dumper.represent_sequence("!reset", list(data)))
    return yaml.dump(document, Dumper=Dumper, sort_keys=False)


class OverrideTag(list[str]):
    """A list written with Compose's `!override` tag: it replaces the base file's list instead of adding to it."""


class ResetTag(list[str]):
    """A list written with Compose's `!reset` tag: the base file's value is dropped."""
