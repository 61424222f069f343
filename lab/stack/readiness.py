"""Is a service ready? Asked directly, through its published port, the moment the lab needs to know.

Docker's health checks run `interval` after a container starts, then every `interval`; each is an exec into
the container, which costs the container and the engine CPU whether anyone looks or not (Docker 20.10 has no
faster interval while starting). The lab therefore waits on its own probes, polled as often as it likes and only
while it waits, and lets Docker check rarely (every 5 s) for people reading `docker ps`.
"""

from __future__ import annotations

import http.client

PROBE_TIMEOUT_S = 1.0


def http_ok(port: int, path: str) -> bool:
    """GET `path` on 127.0.0.1:`port` answers 200 (a TCP connect alone would not do: Docker's proxy accepts for a
    container that does not listen yet)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT_S)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def warm_up() -> None:
    """Import libpq's binding (0.1-0.2 s), for a caller with time to spare before the first probe of a database."""
    import psycopg  # noqa: F401


def postgres_accepting(conninfo: str) -> bool:
    """The server accepts connections (libpq's PQping, as `pg_isready` asks): no credentials needed, so `lab status`
    can ask too. The built-in database sets its password before it listens, so accepting means a login works."""
    # Imported here: a run imports it (warm_up) while Compose starts its stack.
    import psycopg

    return psycopg.pq.PGconn.ping(f"{conninfo} connect_timeout=1".encode()) == psycopg.pq.Ping.OK
