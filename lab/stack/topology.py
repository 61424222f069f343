"""A Compose file's topology, read rather than assumed: `docker compose config --format json` gives its services
(their container ports, whether they have a health check), networks and volumes, with the file's own
interpolation applied. Nothing here starts a container; it needs the Compose binary, not the engine."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import InvalidInput
from lab.stack.compose import compose_command

EXPOSED = re.compile(r"(\d{1,5})(?:-(\d{1,5}))?(?:/[A-Za-z]+)?")
"""An `expose` entry as Compose takes it: a port or a range of them (`8000-8010`), and a protocol (`53/udp`).
`compose config` leaves these as written (its `ports` come out one long-syntax entry per port)."""


@dataclass(frozen=True)
class Service:
    name: str
    ports: tuple[int, ...]
    """Container ports the service publishes or exposes."""
    healthcheck: bool
    built: bool
    """Built from a context (`build:`), not only an image."""
    image: str | None = None
    """The image it names (`image:`), if any: a built service without one gets a tag from the lab."""


@dataclass(frozen=True)
class ComposeTopology:
    file: Path
    services: dict[str, Service]
    networks: tuple[str, ...]
    """Networks the file creates (not external ones): the lab labels these."""
    volumes: tuple[str, ...]
    """Volumes the file creates (not external ones)."""


def read_topology(compose_file: Path, env: Mapping[str, str] | None = None,
                  compose_argv: list[str] | None = None, added: tuple[Path, ...] = ()) -> ComposeTopology:
    """The topology of `compose_file`, merged with the lab's own files `added` to it (the observability part);
    InvalidInput (one line) if it is missing or Compose refuses it."""
    if not compose_file.is_file():
        raise InvalidInput(f"stack.compose_file: {compose_file} does not exist")
    files = [argument for path in (compose_file, *added) for argument in ("--file", str(path))]
    argv = [*(compose_argv or compose_command()), *files, "config", "--format", "json"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False,
                              env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired as exc:
        raise InvalidInput(f"stack.compose_file: `compose config` on {compose_file} did not finish") from exc
    try:  # a Compose that exits 0 with nothing on stdout (some do, on an interpolation error) is caught here too
        document = json.loads(done.stdout) if done.returncode == 0 else None
    except ValueError:
        document = None
    if not isinstance(document, dict):
        said = [line.strip() for line in done.stderr.splitlines() if line.strip()] or ["no output"]
        raise InvalidInput(f"stack.compose_file: {compose_file} is not a valid Compose file: {said[-1]}")
    return parse_config(compose_file, document)


def parse_config(compose_file: Path, document: dict[str, Any]) -> ComposeTopology:
    services = {}
    for name, service in (document.get("services") or {}).items():
        ports = {int(port["target"]) for port in service.get("ports") or [] if "target" in port}
        for exposed in service.get("expose") or []:
            ports |= exposed_ports(compose_file, name, exposed)
        healthcheck = bool(service.get("healthcheck")) and not (service.get("healthcheck") or {}).get("disable")
        services[name] = Service(name, tuple(sorted(ports)), healthcheck, "build" in service, service.get("image"))
    networks = tuple(sorted(key for key, network in (document.get("networks") or {}).items()
                            if not (network or {}).get("external")))
    volumes = tuple(sorted(key for key, volume in (document.get("volumes") or {}).items()
                           if not (volume or {}).get("external")))
    return ComposeTopology(compose_file, services, networks, volumes)


def exposed_ports(compose_file: Path, service: str, exposed: object) -> set[int]:
    """The container ports an `expose` entry names: each port of a range. Compose takes any text here and only the
    engine refuses it at `up`; the lab says so before anything starts."""
    match = EXPOSED.fullmatch(str(exposed).strip())
    first, last = (int(match[1]), int(match[2] or match[1])) if match else (0, 0)
    if not 1 <= first <= last <= 65535:
        raise InvalidInput(f"stack.compose_file: {compose_file}: services.{service}.expose: {exposed!r} is not a port "
                           "or a range of ports (e.g. 8000, 8000-8010, 53/udp)")
    return set(range(first, last + 1))
