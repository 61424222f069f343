"""Removing a run from a Docker engine: its fault helpers stopped first (each reverts its fault on SIGTERM, where a
forced removal would kill it mid-fault), then every container, network and volume carrying the run's labels, and
nothing else.

One algorithm for every removal: a run's own end, `lab down`, `lab clean`, the removal of a dead run's leftovers,
and the run's reaper container. The reaper reaches the engine through its socket with Python's standard library
and tenacity only (its image carries this module, lab.stack.images), so this module imports nothing else; the lab
reaches it through the Docker SDK (lab.stack.docker_api.SdkEngine)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from tenacity import RetryCallState, Retrying, retry_if_exception_type, retry_if_result, stop_after_delay, wait_fixed

from lab.stack.labels import ROLE, ROLE_FAULT, ROLE_REAPER, owned, run_filter

BUSY_RETRY_S = 15.0
"""How long a removal the engine refuses for now (a removal already in progress, a network whose last container is
still going) is tried again."""
HELPER_STOP_S = 5
"""A fault helper gets this long to revert its fault and exit before the engine kills it."""

Parallel = Callable[[Callable[[Any], int], Iterable[Any]], Iterator[int]]


class Gone(Exception):
    """The resource is not there (any more)."""


class Busy(Exception):
    """The engine refuses for now (409: a removal in progress, a network with endpoints)."""


class EngineApi(Protocol):
    """What the removal asks of an engine. Listings are the engine's summaries (dicts with Id, Labels...); every
    call raises Gone or Busy as the engine answers 404 or 409."""

    def containers(self, filters: dict[str, Any]) -> list[dict[str, Any]]: ...

    def stop(self, container_id: str, timeout_s: int) -> None: ...

    def remove_container(self, container_id: str) -> None: ...

    def networks(self, filters: dict[str, Any]) -> list[dict[str, Any]]: ...

    def remove_network(self, network_id: str) -> None: ...

    def volumes(self, filters: dict[str, Any]) -> list[dict[str, Any]]: ...

    def remove_volume(self, name: str) -> None: ...


@dataclass(frozen=True)
class Swept:
    found: int
    """The run's resources that were there."""
    removed: int
    """Those this pass removed (the others went meanwhile)."""


def remove_run(api: EngineApi, run_id: str, *, spare_reaper: bool = False, parallel: Parallel = map) -> Swept:
    """Remove every resource of the run (its reaper too, unless spared). `parallel` maps the container removals: each
    forced removal is a kill and a wait for the engine, worth doing together."""
    selector = run_filter(run_id)
    containers = [c for c in api.containers(selector) if owned(c.get("Labels"), run_id)
                  and not (spare_reaper and (c.get("Labels") or {}).get(ROLE) == ROLE_REAPER)]
    for helper in containers:
        if (helper.get("Labels") or {}).get(ROLE) == ROLE_FAULT and helper.get("State") == "running":
            _once_there(api.stop, helper["Id"], HELPER_STOP_S)
    removed = sum(parallel(lambda container: _once_there(api.remove_container, container["Id"]), containers))
    networks = [n for n in api.networks(selector) if owned(n.get("Labels"), run_id)]
    removed += sum(_once_there(api.remove_network, network["Id"]) for network in networks)
    volumes = [v for v in api.volumes(selector) if owned(v.get("Labels"), run_id)]
    removed += sum(_once_there(api.remove_volume, volume["Name"]) for volume in volumes)
    return Swept(found=len(containers) + len(networks) + len(volumes), removed=removed)


def remove_until_quiet(api: EngineApi, run_id: str, give_up_after_s: float, every_s: float = 0.5,
                       unreachable: Callable[[BaseException], None] = lambda _: None) -> int:
    """Remove the run (its reaper spared) pass after pass until two passes in a row find nothing of it (a `compose
    up` its owner left running may still be creating containers), or `give_up_after_s`; returns how many went. An
    engine that cannot be reached (restarting) is tried again, and `unreachable` told why."""
    removed, quiet = 0, 0

    def one_pass() -> int:
        nonlocal removed, quiet
        swept = remove_run(api, run_id, spare_reaper=True)
        removed += swept.removed
        quiet = 0 if swept.found else quiet + 1
        return quiet

    def told(state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome is not None else None
        if failure is not None:
            unreachable(failure)

    Retrying(stop=stop_after_delay(give_up_after_s), wait=wait_fixed(every_s), before_sleep=told,
             retry=retry_if_result(lambda quiet_passes: quiet_passes < 2) | retry_if_exception_type(OSError),
             retry_error_callback=lambda _: 0)(one_pass)
    return removed


def _once_there(action: Callable[..., object], *args: Any) -> int:
    """1 once `action(*args)` (a removal) has happened, 0 if the thing was already gone."""
    retrying = Retrying(stop=stop_after_delay(BUSY_RETRY_S), wait=wait_fixed(0.25), reraise=True,
                        retry=retry_if_exception_type(Busy))
    try:
        retrying(action, *args)
    except Gone:
        return 0
    return 1
