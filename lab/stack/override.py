"""The Compose overrides the lab writes. The one that makes a stack the lab's: the run's labels and owner on every
service, network and volume the file creates, the entry and database ports published on free 127.0.0.1 ports, and
a stable tag for a team's built images. And one per deployed service: the release it runs (lab.stack.releases).
The team's file is never edited; every container, network and volume is then found and removed by label."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import yaml

from lab.stack import labels
from lab.stack.owners import OWNER_FILE
from lab.stack.releases import Release
from lab.stack.scratch import scratch_directory
from lab.stack.spec import StackSpec
from lab.stack.topology import ComposeTopology


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
    Dumper.add_representer(ResetValue, lambda dumper, data: dumper.represent_scalar("!reset", "null"))
    return yaml.dump(document, Dumper=Dumper, sort_keys=False)


class OverrideTag(list[str]):
    """A list written with Compose's `!override` tag: it replaces the base file's list instead of adding to it."""


class ResetTag(list[str]):
    """A list written with Compose's `!reset` tag: the base file's value is dropped."""


class ResetValue:
    """A value written as Compose's `!reset null`: the base file's entry (an environment variable) is dropped."""


def host_ports(spec: StackSpec, entry_port: int | None, database_port: int | None) -> dict[str, int]:
    """The 127.0.0.1 ports the lab picked: the entry's, and the first database's (0: none picked)."""
    ports = {spec.entry.service: entry_port or 0}
    for number, database in enumerate(spec.databases):
        ports[database.service] = (database_port or 0) if number == 0 else ports.get(database.service, 0)
    return ports


def write_override(spec: StackSpec, compose: ComposeTopology | None, run_id: str, owner: str,
                   host_ports: dict[str, int]) -> Path:
    """The override written in the run's scratch directory (nothing of the team's is touched), beside the owner file
    by which a later lab command removes that directory should this process die."""
    directory = scratch_directory(run_id)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / OWNER_FILE).write_text(owner)
    path = directory / "override.yaml"
    if compose is not None:
        path.write_text(override_yaml(override(spec, compose, run_id, owner, host_ports)))
    return path


def release_override(service: str, name: str, release: Release | None) -> dict[str, Any]:
    """The Compose override deploying `name` to `service` (None: `current`, the file's own), labelled with it."""
    definition: dict[str, Any] = {"labels": {labels.RELEASE: name}}
    if release is not None:
        if release.image is not None:
            definition["image"] = release.image
        if release.command is not None:
            definition["command"] = list(release.command)
        if release.environment:
            definition["environment"] = {key: ResetValue() if value is None else value
                                         for key, value in release.environment.items()}
    return {"services": {service: definition}}


def write_release_override(run_id: str, service: str, name: str, release: Release | None) -> Path:
    """The service's release override, in the run's scratch directory beside the stack's."""
    directory = scratch_directory(run_id)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"release-{service}.yaml"
    path.write_text(override_yaml(release_override(service, name, release)))
    return path
