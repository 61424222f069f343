"""Reaching the Docker engine through its SDK: a client that answers, what its failures look like, listings that
tolerate short-lived containers, and the engine API the removal of a run asks for (lab.stack.removal)."""

from __future__ import annotations

from typing import Any

import docker
from docker.errors import APIError, DockerException, NotFound
from requests import RequestException
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from lab.errors import DockerUnavailable, EngineLost
from lab.stack.removal import Busy, Gone

ENGINE_ERRORS = (DockerException, RequestException)
"""What the SDK raises when the engine stops answering (a refused or cut connection surfaces from requests)."""

ENGINE_FIX = ("start one with `make docker` (installs docker.io and starts dockerd as root) "
              "or `sudo systemctl start docker`")


def connect() -> docker.DockerClient:
    """A client that has answered a ping, or DockerUnavailable with the fix."""
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except DockerException as exc:
        raise DockerUnavailable(f"cannot reach the Docker daemon ({first_line(exc)}): {ENGINE_FIX}") from exc
    return client


def wait_for_engine(client: docker.DockerClient, timeout_s: float, poll_s: float = 0.5) -> bool:
    """True as soon as the engine answers a ping again, False if it has not within `timeout_s`."""
    retrying = Retrying(stop=stop_after_delay(timeout_s), wait=wait_fixed(poll_s),
                        retry=retry_if_exception_type(ENGINE_ERRORS), reraise=True)
    try:
        retrying(client.ping)
    except ENGINE_ERRORS:
        return False
    return True


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def engine_failed(exc: BaseException) -> EngineLost:
    """The one-line error for an SDK call that failed mid-command (one of ENGINE_ERRORS)."""
    return EngineLost(f"the Docker engine failed: {first_line(exc)}")


def find_containers(client: docker.DockerClient, filters: dict[str, Any]) -> list[Any]:
    """Containers matching `filters`, each inspected, skipping any that goes away meanwhile. docker-py's
    containers.list() inspects what it listed one by one and raises NotFound when a short-lived container (a fault
    helper, a probe, a trainee's `docker run --rm`) vanished in between: a vanished container is not an error."""
    found = []
    for summary in client.api.containers(all=True, filters=filters):
        try:
            found.append(client.containers.get(summary["Id"]))
        except NotFound:
            continue
    return found


def summaries(client: docker.DockerClient, filters: dict[str, Any]) -> list[dict[str, Any]]:
    """The engine's one-call listing (id, names, labels, state), with no per-container inspection to race."""
    listed: list[dict[str, Any]] = client.api.containers(all=True, filters=filters)
    return listed


class SdkEngine:
    """lab.stack.removal's EngineApi through the Docker SDK's low-level client."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.api = client.api

    def containers(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self.api.containers(all=True, filters=filters)
        return listed

    def stop(self, container_id: str, timeout_s: int) -> None:
        _answered(lambda: self.api.stop(container_id, timeout=timeout_s))

    def remove_container(self, container_id: str) -> None:
        _answered(lambda: self.api.remove_container(container_id, force=True, v=True))

    def networks(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self.api.networks(filters=filters)
        return listed

    def remove_network(self, network_id: str) -> None:
        _answered(lambda: self.api.remove_network(network_id))

    def volumes(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = (self.api.volumes(filters=filters) or {}).get("Volumes") or []
        return listed

    def remove_volume(self, name: str) -> None:
        _answered(lambda: self.api.remove_volume(name, force=True))


def _answered(call: Any) -> None:
    """Make the call; the engine's 404 is Gone, its 409 Busy."""
    try:
        call()
    except NotFound as exc:
        raise Gone(str(exc)) from exc
    except APIError as exc:
        if exc.status_code == 409:
            raise Busy(str(exc)) from exc
        raise
