"""Which stack a scenario runs on: the built-in one (PostgreSQL, three orders app replicas, HAProxy), or a team's
own Compose file, named in the scenario's `stack:` section with what the lab needs to know about it: the entry
point synthetic users call, the header that names the replica that served them, the PostgreSQL services and how
an administrator logs in to them (environment variable names, never values), and which logs carry app errors.

The team's file is never edited: the lab adds its labels, ownership and host ports through an override file it
generates (lab.stack.override).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from lab.document import DocumentModel, FieldProblem, Port, ServiceName, Topology
from lab.settings import BUILTIN_COMPOSE_FILE
from lab.stack.releases import CURRENT, Release
from lab.stack.topology import ComposeTopology

RELEASE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


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
    releases: Mapping[str, Release] = Field(
        default_factory=dict, description="Releases a scenario may deploy to its services, by name (`current`, the "
                                          "Compose file's own, is always one).")

    @field_validator("releases")
    @classmethod
    def _release_names(cls, value: Mapping[str, Release]) -> Mapping[str, Release]:
        for name in value:
            if name == CURRENT or not RELEASE_NAME.fullmatch(name):
                raise ValueError(f"a release's name must be lowercase letters, digits and dashes, not {CURRENT!r}; "
                                 f"got {name!r}")
        return value

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
                        apps=self.app_logs.services if self.app_logs else (),
                        releases=(CURRENT, *self.releases))

    def resolved(self, base_dir: Path) -> StackSpec:
        """The same with the Compose file's path made absolute (it is relative to the scenario file)."""
        path = Path(self.compose_file)
        return self if path.is_absolute() else self.model_copy(update={"compose_file": str(base_dir / path)})
