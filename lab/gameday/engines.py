"""The Docker engines a game day spreads its stacks over: listed in a settings file (Docker contexts or DOCKER_HOST
URLs), else the one engine the environment points to.

A stack lives wholly on one engine: its drill process runs with that engine's DOCKER_HOST, so Compose, the
reaper, the faults, `lab exec` and `lab logs` all go there. Engines that report the same host name share that
host's CPUs and memory (two daemons on one machine do not double it).

    # engines.yaml
    engines:
      - name: here                                       # the environment's engine (DOCKER_HOST or default)
      - name: second
        docker_host: unix:///run/outage-lab-second/docker.sock
      - name: rack-2
        context: rack-2                                  # a `docker context` (its TLS material is used)
        max_stacks: 2                                    # optional: at most this many stacks there
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from docker.context import ContextAPI
from docker.errors import DockerException, ImageNotFound
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lab.errors import DockerUnavailable, InvalidInput
from lab.stack.docker_api import ENGINE_ERRORS, ENGINE_FIX, first_line
from lab.stack.images import IMAGE_NAMES, LabImages
from lab.yaml_file import YamlProblem, load_yaml

DOCKER_VARIABLES = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT")
Progress = Callable[[str], None]


class EngineEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    docker_host: str | None = Field(None, min_length=1, description="e.g. unix:///run/docker-2.sock, tcp://h:2376")
    context: str | None = Field(None, min_length=1, description="A Docker context, as `docker context ls` lists it.")
    max_stacks: int | None = Field(None, ge=1, description="At most this many of the game day's stacks here.")

    @model_validator(mode="after")
    def _one_address(self) -> EngineEntry:
        if self.docker_host and self.context:
            raise ValueError("give docker_host or context, not both")
        return self


class EnginesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    engines: tuple[EngineEntry, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> EnginesFile:
        names = [entry.name for entry in self.engines]
        if len(set(names)) != len(names):
            raise ValueError(f"engine names must be unique, got {', '.join(names)}")
        return self


@dataclass(frozen=True)
class DockerEngine:
    name: str
    env: Mapping[str, str] = field(default_factory=dict)
    """DOCKER_* variables that point a process at this engine (empty: the environment's own engine)."""
    max_stacks: int | None = None

    @property
    def address(self) -> str:
        return self.env.get("DOCKER_HOST", "") or os.environ.get("DOCKER_HOST", "") or "the default engine"

    def process_env(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` (an environment) pointed at this engine."""
        if not self.env:
            return dict(base)
        return {**{k: v for k, v in base.items() if k not in DOCKER_VARIABLES}, **self.env}

    def connect(self) -> docker.DockerClient:
        try:
            client = docker.from_env(environment=self.process_env(os.environ), timeout=120)
            client.ping()
        except DockerException as exc:
            raise DockerUnavailable(f"engine {self.name} ({self.address}) does not answer ({first_line(exc)})"
                                    + ("" if self.env else f": {ENGINE_FIX}")) from exc
        return client


def load_engines(path: Path | None) -> list[DockerEngine]:
    """The engines of the settings file, or the environment's engine alone."""
    if path is None:
        return [DockerEngine("local")]
    try:
        document = load_yaml(path.read_text(), "an engines file")
        parsed = EnginesFile.model_validate(document)
    except OSError as exc:
        raise InvalidInput(f"cannot read the engines file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"cannot read the engines file {path}: not UTF-8 text ({exc.reason} at byte "
                           f"{exc.start})") from exc
    except YamlProblem as exc:
        raise InvalidInput(f"{path}: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in error['loc']) or 'engines'}: {error['msg']}"
                             for error in exc.errors())
        raise InvalidInput(f"{path}: {problems}") from exc
    except RecursionError as exc:
        raise InvalidInput(f"{path}: nested too deeply to be an engines file") from exc
    return [DockerEngine(entry.name, _entry_env(entry), entry.max_stacks) for entry in parsed.engines]


def _entry_env(entry: EngineEntry) -> dict[str, str]:
    if entry.docker_host:
        return {"DOCKER_HOST": entry.docker_host}
    if entry.context is None:
        return {}
    try:
        context = ContextAPI.get_context(entry.context)
    except DockerException as exc:
        raise InvalidInput(f"engine {entry.name}: Docker context {entry.context!r}: {first_line(exc)}") from exc
    if context is None or not context.Host:
        raise InvalidInput(f"engine {entry.name}: no Docker context {entry.context!r} (see `docker context ls`)")
    env = {"DOCKER_HOST": str(context.Host)}
    tls = context.TLSConfig
    if tls is not None and tls.cert:  # the context's TLS material is laid out the way DOCKER_CERT_PATH expects
        env["DOCKER_CERT_PATH"] = str(Path(tls.cert[0]).parent)
        env["DOCKER_TLS_VERIFY"] = "1" if tls.verify else ""
    return env


@dataclass(frozen=True)
class EngineHost:
    """What an engine's host offers, as the engine reports it."""

    name: str
    cpus: int
    memory_mib: float


def host_of(client: docker.DockerClient) -> EngineHost:
    info: dict[str, Any] = client.info()
    return EngineHost(str(info.get("Name", "?")), int(info.get("NCPU", 1)), int(info.get("MemTotal", 0)) / 2**20)


def copy_images(source: docker.DockerClient, target: docker.DockerClient, lab_images: LabImages,
                progress: Progress) -> list[str]:
    """Give `target` the lab's images (and their base, so that their tags hash the same there) that it lacks:
    `docker save | docker load`, streamed from engine to engine. No registry, no second build. Returns the tags
    copied."""
    copied = []
    for tag in {lab_images.base, *(getattr(lab_images, name) for name in IMAGE_NAMES)}:
        try:
            target.images.get(tag)
            continue
        except ImageNotFound:
            pass
        progress(f"copying {tag} to another engine (docker save | docker load)")
        try:  # saved by its tag (by id, the tag would not travel); load() reads the load to its end
            target.images.load(source.images.get(tag).save(chunk_size=2**20, named=tag))
            target.images.get(tag)
        except (*ENGINE_ERRORS, OSError) as exc:
            raise DockerUnavailable(f"cannot copy image {tag} between engines: {first_line(exc)}") from exc
        copied.append(tag)
    return sorted(copied)

