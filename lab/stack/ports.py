"""Host ports: free ones picked for a stack on 127.0.0.1, and the one a container publishes."""

from __future__ import annotations

import errno
import socket
from typing import Any

from lab.errors import PortInUse, StackError


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ensure_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                message = f"port {port} on 127.0.0.1 is in use: pick another, or leave it out for a free one"
                raise PortInUse(message) from exc
            raise


def host_port(container: Any, service: str, container_port: str) -> int:
    """The host port a running container publishes `container_port` on (a stopped one publishes none)."""
    bindings = container.ports.get(container_port) or []
    if not bindings:
        raise StackError(f"{service} publishes no port for {container_port}")
    return int(bindings[0]["HostPort"])
