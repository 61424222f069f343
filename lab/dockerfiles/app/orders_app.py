"""The lab's web app: a tiny orders service on PostgreSQL through a psycopg 3 connection pool.

Endpoints: GET /healthz (shallow), GET /readyz (checks the database), POST /orders (returns the id only
after commit), GET /orders/<id>. Every response names the replica in the X-Served-By header. Every
database error is logged to stdout as one JSON line carrying the exact exception class and text: the lab's
recorder reads these lines from the container log.
"""
from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

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
ORDER_PATH = re.compile(r"^/orders/(\d+)$")
_log_lock = threading.Lock()


def log_json(event: str, **fields: Any) -> None:
    """One JSON object per line on stdout, so the recorder never has to parse free text."""
    record = {"ts": datetime.now(timezone.utc).isoformat(), "replica": REPLICA, "event": event, **fields}
    with _log_lock:
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()


def exception_name(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


def log_db_error(exc: BaseException, during: str) -> None:
    log_json("db_error", during=during, error_class=exception_name(exc), message=str(exc).strip())


class LoggedConnection(psycopg.Connection[Any]):
    """Logs every failed connect with its exact class: the pool retries connects in the background and
    would otherwise only leave a formatted warning behind."""

    @classmethod
    def connect(cls, *args: Any, **kwargs: Any) -> LoggedConnection:  # type: ignore[override]
        try:
            return super().connect(*args, **kwargs)
        except Exception as exc:
            log_db_error(exc, during="connect")
            raise


class PoolWarningHandler(logging.Handler):
    """The pool's own warnings (broken connections discarded...) as JSON lines too."""

    def emit(self, record: logging.LogRecord) -> None:
        log_json("pool_warning", message=record.getMessage())


class QuietThreadingHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up early (HAProxy's health checks reset the connection) is not an error."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def build_pool() -> ConnectionPool:
    conninfo = psycopg.conninfo.make_conninfo(
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
    return ConnectionPool(conninfo, min_size=POOL_MIN, max_size=POOL_MAX, timeout=POOL_TIMEOUT_S, name=REPLICA,
                          max_lifetime=POOL_MAX_LIFETIME_S, reconnect_timeout=RECONNECT_TIMEOUT_S,
                          connection_class=LoggedConnection, open=True)


def create_schema(pool: ConnectionPool) -> None:
    with pool.connection() as conn:
        # The three replicas start together; the advisory lock serialises their CREATE TABLE.
        conn.execute("SELECT pg_advisory_xact_lock(7007)")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS orders ("
            " id bigserial PRIMARY KEY, item text NOT NULL, quantity integer NOT NULL,"
            " replica text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
        )


class OrdersHandler(BaseHTTPRequestHandler):
    server_version = "outage-lab-app"
    protocol_version = "HTTP/1.1"
    pool: ConnectionPool

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature from the stdlib
        """Access logs stay off: the load balancer and the recorder already see every request."""

    def send_json(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps({"replica": REPLICA, **body}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Served-By", REPLICA)
        self.end_headers()
        self.wfile.write(payload)

    def database_unavailable(self, exc: BaseException, during: str) -> None:
        log_db_error(exc, during=during)
        self.send_json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": exception_name(exc), "detail": str(exc).strip()})

    def do_GET(self) -> None:  # noqa: N802 - name fixed by http.server
        if self.path == "/healthz":
            self.send_json(HTTPStatus.OK, {"status": "ok"})
        elif self.path == "/readyz":
            self.readiness()
        elif match := ORDER_PATH.match(self.path):
            self.read_order(int(match.group(1)))
        else:
            self.send_json(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802 - name fixed by http.server
        if self.path != "/orders":
            self.send_json(HTTPStatus.NOT_FOUND, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            order = json.loads(self.rfile.read(length) or b"{}")
            item, quantity = str(order["item"]), int(order["quantity"])
        except (ValueError, KeyError, TypeError):
            self.send_json(HTTPStatus.BAD_REQUEST, {"error": "expected JSON {item, quantity}"})
            return
        self.create_order(item, quantity)

    def readiness(self) -> None:
        try:
            with self.pool.connection() as conn:
                conn.execute("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any database failure means "not ready"
            self.database_unavailable(exc, during="readyz")
            return
        self.send_json(HTTPStatus.OK, {"status": "ready"})

    def create_order(self, item: str, quantity: int) -> None:
        try:
            with self.pool.connection() as conn:  # commits on leaving the block
                row = conn.execute(
                    "INSERT INTO orders (item, quantity, replica) VALUES (%s, %s, %s) RETURNING id",
                    (item, quantity, REPLICA),
                ).fetchone()
        except Exception as exc:  # noqa: BLE001
            self.database_unavailable(exc, during="create_order")
            return
        assert row is not None
        self.send_json(HTTPStatus.CREATED, {"id": row[0]})

    def read_order(self, order_id: int) -> None:
        try:
            with self.pool.connection() as conn:
                row = conn.execute("SELECT item, quantity, replica FROM orders WHERE id = %s", (order_id,)).fetchone()
        except Exception as exc:  # noqa: BLE001
            self.database_unavailable(exc, during="read_order")
            return
        if row is None:
            self.send_json(HTTPStatus.NOT_FOUND, {"error": "no such order", "id": order_id})
        else:
            self.send_json(HTTPStatus.OK, {"id": order_id, "item": row[0], "quantity": row[1], "written_by": row[2]})


def main() -> None:
    logging.getLogger("psycopg.pool").addHandler(PoolWarningHandler(level=logging.WARNING))
    pool = build_pool()
    started = time.monotonic()
    pool.wait(timeout=60)
    create_schema(pool)
    OrdersHandler.pool = pool
    server = QuietThreadingHTTPServer(("0.0.0.0", PORT), OrdersHandler)
    # As PID 1 the default SIGTERM action is ignored; stop at once so `compose down` does not wait 10 s.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    log_json("listening", port=PORT, startup_s=round(time.monotonic() - started, 3))
    server.serve_forever()
    pool.close(timeout=1)
    log_json("stopped")


if __name__ == "__main__":
    main()
