"""Every write the app acknowledged must be in the database at the end of the run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed


@dataclass(frozen=True)
class WriteCheck:
    acknowledged: int
    found: int
    missing: list[Any]


def verify_acknowledged_writes(conninfo: str, password: str, acknowledged: list[Any], query: str) -> WriteCheck:
    """Look every acknowledged id up in the database with the workload's query, which gets the ids as %(ids)s and
    returns those it finds in its first column (retrying connects: the database may have just restarted)."""
    import psycopg  # here, not at import: a run imports it while its stack starts (readiness.warm_up)

    ids = sorted(set(acknowledged), key=str)
    retrying = Retrying(stop=stop_after_delay(30), wait=wait_fixed(0.5),
                        retry=retry_if_exception_type(psycopg.OperationalError), reraise=True)
    connection = retrying(psycopg.connect, conninfo, password=password)
    with connection:
        rows = connection.execute(query, {"ids": ids}).fetchall()
    present = {row[0] for row in rows}
    missing = [order_id for order_id in ids if order_id not in present]
    return WriteCheck(acknowledged=len(ids), found=len(ids) - len(missing), missing=missing)
