"""The lab's web app: a tiny orders service on PostgreSQL through a psycopg 3 connection pool, served by uvicorn.

Endpoints: GET /healthz (shallow), GET /readyz (checks the database), POST /orders (returns the id only
after commit), GET /orders/<id>, GET /metrics (Prometheus). Every response names the replica in the X-Served-By
header. Every database error is logged to stdout as one JSON line carrying the exact exception class and text: the
lab's recorder reads these lines from the container log.

/metrics is what an on-call engineer's dashboards and alert rules read: requests and their latency by route and
status, the connection pool's state and timeouts, database errors by exception class. It is written by
prometheus_client (Debian's python3-prometheus-client) and never touches the database: a replica whose database
path hangs still answers it at once, as a real service's metrics endpoint does.

Why ASGI on uvicorn (uvloop, httptools): a request waiting for the database is a coroutine, not a thread, so a
replica whose database path hangs holds a thousand waiting requests at no cost, each failing after the same pool
timeout as before, while its healthy siblings serve 1,000 req/s between them on two cores (the standard library's
threading server, a thread per connection, could not).
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any

import psycopg
import uvicorn
from psycopg import sql
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from psycopg_pool import AsyncConnectionPool
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_delay, wait_fixed

REPLICA = os.environ.get("REPLICA_NAME", "app")
PORT = int(os.environ.get("APP_PORT", "8000"))
# Short timeouts make a lost database path fail in seconds instead of hanging: connect_timeout bounds a
# dropped SYN, tcp_user_timeout and keepalives bound a connection that was open when packets started to drop.
CONNECT_TIMEOUT_S = int(os.environ.get("DB_CONNECT_TIMEOUT", "2"))
POOL_TIMEOUT_S = float(os.environ.get("DB_POOL_TIMEOUT", "3"))
# The pool retries a failed connect with exponential backoff (1, 2, 4 ... s). Left unbounded, after a long outage
# the next attempt can be a minute away, so the app stays down well after the network is fixed (outage-lab
# measured 39 s). A short reconnect_timeout makes the pool give up and start afresh on the next request.
RECONNECT_TIMEOUT_S = float(os.environ.get("DB_RECONNECT_TIMEOUT", "5"))
POOL_MIN = int(os.environ.get("DB_POOL_MIN", "2"))
POOL_MAX = max(POOL_MIN, int(os.environ.get("DB_POOL_MAX", "8")))
POOL_MAX_LIFETIME_S = float(os.environ.get("DB_POOL_MAX_LIFETIME", "3600"))
TCP_USER_TIMEOUT_MS = os.environ.get("DB_TCP_USER_TIMEOUT_MS", "2000")
KEEPALIVES = os.environ.get("DB_KEEPALIVES", "1")
# As long as the lab waits for a stack to be healthy (lab.stack.Stack.health_timeout_s): on a busy engine (a game
# day's three stacks starting at once, a second engine that has just loaded the images) the database can take
# more than a minute, and an app that gave up first would fail the whole stack.
STARTUP_WAIT_S = float(os.environ.get("DB_STARTUP_WAIT_S", "180"))
# The table of orders, and whether the app creates it as it starts (its migration) or leaves that to a migration
# job run before the deploy: a release configured for a new table whose migration never ran is up, healthy and
# failing every order (lab.stack.releases).
ORDERS_TABLE = sql.Identifier(os.environ.get("ORDERS_TABLE", "orders"))
MIGRATE_AT_START = os.environ.get("DB_MIGRATE_AT_START", "1") == "1"
ORDER_PATH = re.compile(r"^/orders/(\d+)$")
METRICS_PATH = "/metrics"

REQUESTS = Counter("orders_http_requests_total", "HTTP requests answered, by route, method and status.",
                   ["route", "method", "status"])
# Bounds where the lab's judgement and the app's own timeouts fall apart: 1 s (a slower answer counts as failed),
# 2 s (the connect timeout), 3 s (the pool's wait), 5 s (the statement timeout).
LATENCY = Histogram("orders_http_request_duration_seconds", "Time from a request's arrival to its answer, by route.",
                    ["route", "method", "status"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0))
DB_ERRORS = Counter("orders_db_errors_total", "Database errors, by the exception's class (as in the log's "
                    "error_class) and what the app was doing (connect, readyz, create_order, read_order).",
                    ["error_class", "during"])

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


def log_json(event: str, **fields: Any) -> None:
    """One JSON object per line on stdout, so the recorder never has to parse free text. One event loop writes
    them all: no lock needed."""
    record = {"ts": datetime.now(timezone.utc).isoformat(), "replica": REPLICA, "event": event, **fields}
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def exception_name(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


def log_db_error(exc: BaseException, during: str) -> None:
    DB_ERRORS.labels(error_class=exception_name(exc), during=during).inc()
    log_json("db_error", during=during, error_class=exception_name(exc), message=str(exc).strip())


class LoggedConnection(psycopg.AsyncConnection[Any]):
    """Logs every failed connect with its exact class: the pool retries connects in the background and
    would otherwise only leave a formatted warning behind."""

    @classmethod
    async def connect(cls, *args: Any, **kwargs: Any) -> LoggedConnection:  # type: ignore[override]
        try:
            return await super().connect(*args, **kwargs)
        except Exception as exc:
            log_db_error(exc, during="connect")
            raise


class PoolWarningHandler(logging.Handler):
    """The pool's own warnings (broken connections discarded...) as JSON lines too."""

    def emit(self, record: logging.LogRecord) -> None:
        log_json("pool_warning", message=record.getMessage())


class PoolCollector(Collector):
    """The pool's own figures (psycopg_pool's get_stats(): counters kept in memory), read at each scrape, so a
    scrape never waits for the pool's lock or a connection."""

    def __init__(self, app: OrdersApp) -> None:
        self.app = app

    def collect(self) -> list[Metric]:
        pool = self.app.pool
        if pool is None:  # before the database first answered: no pool to describe yet
            return []
        stats = pool.get_stats()
        metrics: list[Metric] = []
        for name, key, text in (
                ("orders_db_pool_size", "pool_size", "Connections the pool holds, in use or idle."),
                ("orders_db_pool_available", "pool_available", "Idle connections ready for a request."),
                ("orders_db_pool_waiting", "requests_waiting", "Requests waiting for a connection now.")):
            metrics.append(GaugeMetricFamily(name, text, value=stats.get(key, 0)))
        metrics.append(GaugeMetricFamily("orders_db_pool_max", "The pool's largest size.", value=pool.max_size))
        # With no max_waiting set, a connection request fails only when it waited the pool's timeout: the pool's
        # request errors are its timeouts (each one is also a psycopg_pool.PoolTimeout in orders_db_errors_total).
        for name, key, text in (
                ("orders_db_pool_timeouts", "requests_errors", "Requests that waited the pool's timeout for a "
                                                               "connection in vain."),
                ("orders_db_pool_requests", "requests_num", "Requests for a connection."),
                ("orders_db_pool_connections_errors", "connections_errors", "Failed attempts to connect."),
                ("orders_db_pool_connections_lost", "connections_lost", "Connections found broken and discarded.")):
            metrics.append(CounterMetricFamily(name, text, value=stats.get(key, 0)))
        return metrics


def conninfo() -> str:
    return psycopg.conninfo.make_conninfo(
        host=os.environ["DB_HOST"],
        port=os.environ.get("DB_PORT", "5432"),
        dbname=os.environ["DB_NAME"],
        user=os.environ["DB_USER"],
        password=os.environ["DB_PASSWORD"],
        application_name=REPLICA,
        connect_timeout=str(CONNECT_TIMEOUT_S),
        tcp_user_timeout=TCP_USER_TIMEOUT_MS,
        keepalives=KEEPALIVES,
        keepalives_idle="1",
        keepalives_interval="1",
        keepalives_count="2",
        options="-c statement_timeout=5000",
    )


def say_still_waiting(state: RetryCallState) -> None:
    """Every 10 s (100 tries) a line saying why: an app that waits in silence leaves nothing to read in its log."""
    if state.attempt_number % 100 == 1 and state.outcome is not None:
        log_json("waiting_for_database", waited_s=round(state.seconds_since_start or 0.0, 1),
                 error=str(state.outcome.exception()).strip())


async def wait_for_database(dsn: str) -> None:
    """The stack starts its services together: until the database accepts the app's login, try again every 0.1 s
    (the pool's own retries back off to seconds), then make sure the table exists (unless a migration job does)."""
    retrying = AsyncRetrying(stop=stop_after_delay(STARTUP_WAIT_S), wait=wait_fixed(0.1), reraise=True,
                             retry=retry_if_exception_type(psycopg.OperationalError), before_sleep=say_still_waiting)
    async for attempt in retrying:
        with attempt:
            conn = await psycopg.AsyncConnection.connect(dsn)
    if not MIGRATE_AT_START:
        await conn.close()
        return
    async with conn:
        # The three replicas start together; the advisory lock serialises their CREATE TABLE.
        await conn.execute("SELECT pg_advisory_xact_lock(7007)")
        await conn.execute(sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} ("
            " id bigserial PRIMARY KEY, item text NOT NULL, quantity integer NOT NULL,"
            " replica text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
        ).format(ORDERS_TABLE))


class OrdersApp:
    """The ASGI application: lifespan opens and closes the pool, HTTP requests are routed by hand (four routes do
    not need a framework)."""

    def __init__(self) -> None:
        self.pool: AsyncConnectionPool | None = None
        REGISTRY.register(PoolCollector(self))

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        elif scope["type"] == "http":
            await self.http(scope, receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                started = time.monotonic()
                dsn = conninfo()
                await wait_for_database(dsn)
                # Autocommit: each request is one statement, and an INSERT is committed before it returns the id,
                # without a BEGIN and a COMMIT round trip around every statement.
                self.pool = AsyncConnectionPool(dsn, min_size=POOL_MIN, max_size=POOL_MAX,
                                                kwargs={"autocommit": True}, timeout=POOL_TIMEOUT_S, name=REPLICA,
                                                max_lifetime=POOL_MAX_LIFETIME_S,
                                                reconnect_timeout=RECONNECT_TIMEOUT_S,
                                                connection_class=LoggedConnection, open=False)
                await self.pool.open(wait=True, timeout=STARTUP_WAIT_S)
                log_json("listening", port=PORT, startup_s=round(time.monotonic() - started, 3))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close(timeout=1)
                log_json("stopped")
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        if method == "GET" and path == METRICS_PATH:
            await self.metrics(send)
            return
        started = time.monotonic()
        status, body, route = await self.route(method, path, receive)
        payload = json.dumps({"replica": REPLICA, **body}).encode()
        await send({"type": "http.response.start", "status": int(status),
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload)),
                                (b"x-served-by", REPLICA.encode())]})
        await send({"type": "http.response.body", "body": payload})
        # The route's pattern, never the path itself, and no method a client invents: one series per order id or
        # per stray path would grow without end.
        labels = {"route": route, "method": method if method in ("GET", "POST") else "other",
                  "status": str(int(status))}
        REQUESTS.labels(**labels).inc()
        LATENCY.labels(**labels).observe(time.monotonic() - started)

    async def metrics(self, send: Send) -> None:
        """The exposition (not counted among the requests: a scrape every second would count itself)."""
        payload = generate_latest(REGISTRY)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", CONTENT_TYPE_LATEST.encode()),
                                (b"content-length", b"%d" % len(payload)), (b"x-served-by", REPLICA.encode())]})
        await send({"type": "http.response.body", "body": payload})

    async def route(self, method: str, path: str, receive: Receive) -> tuple[HTTPStatus, dict[str, Any], str]:
        if method == "GET" and path == "/healthz":
            return HTTPStatus.OK, {"status": "ok"}, path
        if method == "GET" and path == "/readyz":
            return *await self.readiness(), path
        if method == "GET" and (match := ORDER_PATH.match(path)):
            return *await self.read_order(int(match.group(1))), "/orders/{id}"
        if method == "POST" and path == "/orders":
            return *await self.create_order(await read_body(receive)), path
        return HTTPStatus.NOT_FOUND, {"error": "not found"}, "other"

    def database_unavailable(self, exc: BaseException, during: str) -> tuple[HTTPStatus, dict[str, Any]]:
        log_db_error(exc, during=during)
        return HTTPStatus.SERVICE_UNAVAILABLE, {"error": exception_name(exc), "detail": str(exc).strip()}

    async def readiness(self) -> tuple[HTTPStatus, dict[str, Any]]:
        assert self.pool is not None
        try:
            async with self.pool.connection() as conn:
                await conn.execute("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any database failure means "not ready"
            return self.database_unavailable(exc, during="readyz")
        return HTTPStatus.OK, {"status": "ready"}

    async def create_order(self, raw: bytes) -> tuple[HTTPStatus, dict[str, Any]]:
        assert self.pool is not None
        try:
            order = json.loads(raw or b"{}")
            item, quantity = str(order["item"]), int(order["quantity"])
        except (ValueError, KeyError, TypeError):
            return HTTPStatus.BAD_REQUEST, {"error": "expected JSON {item, quantity}"}
        try:
            async with self.pool.connection() as conn:  # autocommit: committed when the INSERT returns
                cursor = await conn.execute(
                    sql.SQL("INSERT INTO {} (item, quantity, replica) VALUES (%s, %s, %s) RETURNING id")
                    .format(ORDERS_TABLE), (item, quantity, REPLICA),
                )
                row = await cursor.fetchone()
        except Exception as exc:  # noqa: BLE001
            return self.database_unavailable(exc, during="create_order")
        assert row is not None
        return HTTPStatus.CREATED, {"id": row[0]}

    async def read_order(self, order_id: int) -> tuple[HTTPStatus, dict[str, Any]]:
        assert self.pool is not None
        try:
            async with self.pool.connection() as conn:
                cursor = await conn.execute(
                    sql.SQL("SELECT item, quantity, replica FROM {} WHERE id = %s").format(ORDERS_TABLE), (order_id,))
                row = await cursor.fetchone()
        except Exception as exc:  # noqa: BLE001
            return self.database_unavailable(exc, during="read_order")
        if row is None:
            return HTTPStatus.NOT_FOUND, {"error": "no such order", "id": order_id}
        return HTTPStatus.OK, {"id": order_id, "item": row[0], "quantity": row[1], "written_by": row[2]}


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def main() -> None:
    logging.getLogger("psycopg.pool").addHandler(PoolWarningHandler(level=logging.WARNING))
    # Keep-alive outlasts HAProxy's idle server connections (purged after 5 s), so the LB never reuses a
    # connection this side has just closed. Access logs stay off: the LB and the recorder see every request.
    uvicorn.run(OrdersApp(), host="0.0.0.0", port=PORT, loop="uvloop", http="httptools", lifespan="on",
                access_log=False, log_level="warning", timeout_keep_alive=30, backlog=4096)


if __name__ == "__main__":
    main()
