"""The protocol every fault family implements, and what it is given to act on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import docker

from lab.scenario import FaultSpec


@dataclass(frozen=True)
class FaultContext:
    client: docker.DockerClient
    run_id: str
    project: str
    tools_image: str
    containers: Any
    """Callable: service name -> container of this run (label-checked)."""


@dataclass(frozen=True)
class FaultState:
    applied: bool
    detail: str


class Fault(Protocol):
    spec: FaultSpec

    def prepare(self, arm_timeout_s: float) -> None:
        """Do ahead of time whatever need not happen at the offset; undone by revert or by itself."""

    def apply(self) -> None:
        """Put the fault in place; return once it is in place."""

    def verify(self) -> FaultState:
        """Observe whether the fault is in place now (not what we believe we did)."""

    def revert(self) -> str:
        """Remove the fault; idempotent. Returns what it did."""
