"""Every write the app acknowledged must be in the database at the end of the run."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed


@dataclass(frozen=True)
class WriteCheck:
    acknowledged: int
    found: int
    missing: list[int]


def verify_acknowledged_writes(conninfo: str, password: str, order_ids: list[int]) -> WriteCheck:
    """Look every acknowledged order id up in the database (retrying connects: it may have just restarted)."""
    ids = sorted(set(order_ids))
    retrying = Retrying(stop=stop_after_delay(30), wait=wait_fixed(0.5),
                        retry=retry_if_exception_type(psycopg.OperationalError), reraise=True)
    connection = retrying(psycopg.connect, conninfo, password=password)
    with connection:
        rows = connection.execute("SELECT id FROM orders WHERE id = ANY(%s)", (ids,)).fetchall()
    present = {row[0] for row in rows}
    missing = [order_id for order_id in ids if order_id not in present]
    return WriteCheck(acknowledged=len(ids), found=len(ids) - len(missing), missing=missing)
