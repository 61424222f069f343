"""A stack to play with by hand: `lab up` starts one with no owner (it stays until `lab down`), `lab status` shows
every lab stack on the engine."""

from __future__ import annotations

from dataclasses import dataclass

from lab.stack.engine import Engine, Progress
from lab.stack.ports import ensure_port_free
from lab.stack.project import Stack


def bring_up(engine: Engine, progress: Progress, lb_port: int | None = None, db_port: int | None = None,
             observe: bool = False) -> Stack:
    """Start a stack (`observe`: with its observability part) and leave it running (for `lab up`); on any failure
    nothing is left behind."""
    for port in (lb_port, db_port):
        if port is not None:
            ensure_port_free(port)
    lab_images = engine.images(progress)
    stack = engine.stack(images=lab_images, lb_port=lb_port, db_port=db_port, observe=observe)
    progress(f"starting stack {stack.run_id}")
    try:
        stack.up()
    except BaseException:
        stack.down()
        raise
    return stack


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    state: str
    health: str
    ports: str


def stack_status(engine: Engine, run_id: str) -> list[ServiceStatus]:
    stack = engine.stack(run_id)
    rows = []
    containers = stack.containers()
    for service in sorted(containers):
        container = containers[service]
        state = container.attrs["State"]
        ports = ", ".join(
            f"{b['HostIp']}:{b['HostPort']}->{port}" for port, binds in container.ports.items() for b in binds or []
        )
        health = state.get("Health", {}).get("Status", "-")
        if health == "starting" and state["Status"] == "running" and stack.ready(service, container):
            health = "ready (Docker's first check pending)"  # Docker checks every 5 s (lab.stack.readiness)
        rows.append(ServiceStatus(service, state["Status"], health, ports or "-"))
    return rows


