"""What a fault family may ask of a real lab stack while it plans its helpers (lab.faults.base.FaultTarget):
label-checked containers, addresses, networks, images and database credentials."""

from __future__ import annotations

from typing import Any

from lab.errors import FaultError, StackError
from lab.faults.base import FaultTarget
from lab.stack.deploy import Deployed, deploy, release_of
from lab.stack.project import Stack


class StackTarget(FaultTarget):
    """FaultTarget on a real lab stack: containers come from the stack (label-checked)."""

    def __init__(self, stack: Stack, tools_image: str) -> None:
        self.stack = stack
        self.client = stack.client
        self.run_id = stack.run_id
        self.project = stack.project
        self.tools_image = tools_image

    def container(self, service: str) -> Any:
        return self.stack.container(service)

    def address(self, service: str, seen_from: str) -> str:
        mine = self.container(service).attrs["NetworkSettings"]["Networks"]
        theirs = self.container(seen_from).attrs["NetworkSettings"]["Networks"]
        for name, settings in mine.items():
            if name in theirs and settings.get("IPAddress"):
                return str(settings["IPAddress"])
        raise FaultError(f"{service} and {seen_from} share no network")

    def network_of(self, service: str) -> str:
        networks = list(self.container(service).attrs["NetworkSettings"]["Networks"])
        if not networks:
            raise FaultError(f"{service} is on no network")
        return str(networks[0])

    def image_of(self, service: str) -> str:
        return str(self.container(service).attrs["Image"])

    def database_env(self, service: str) -> dict[str, str]:
        return self.stack.databases.environment(service)

    def deploy(self, service: str, release: str, wait_s: float) -> Deployed:
        try:
            return deploy(self.stack, service, release, wait_s)
        except StackError as exc:
            raise FaultError(f"deploy of {release} to {service} failed: {exc}") from exc

    def release_of(self, service: str) -> str:
        try:
            return release_of(self.stack, service)
        except StackError as exc:
            raise FaultError(f"cannot tell which release {service} runs: {exc}") from exc
