"""db-lock: a session of the database holds a lock on a table in an open transaction, as a migration's
`ALTER TABLE` (ACCESS EXCLUSIVE: every query on the table queues behind it) or a `CREATE INDEX` without
CONCURRENTLY (SHARE: writes queue, reads go on) does. The apps' statements wait until their statement timeout,
their pools run dry, requests time out; `pg_stat_activity` and `pg_blocking_pids()` show who blocks whom.

A helper on the stack's network (the database's own image: psql; no capability) starts psql in the background,
feeding it `BEGIN; LOCK TABLE ...` from a pipe that stays open, so the transaction stays open with the session.
The session is named after the fault (`application_name`), which is how verify finds its lock and how revert ends
that session and only that one (`pg_terminate_backend`). Should the helper go, its container takes the session's
connection with it and the server rolls the transaction back: the dead-man switch needs nothing more.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from lab.document import DatabaseService, topology_of
from lab.faults.base import FaultFamily, FaultSpec, FaultTarget, HelperPlan
from lab.faults.postgres import PSQL

IDENTIFIER = r"^[a-z_][a-z0-9_]{0,62}$"
MODES = {"access-exclusive": "ACCESS EXCLUSIVE", "exclusive": "EXCLUSIVE", "share": "SHARE"}
APPLICATION_NAME_MAX = 63
"""PostgreSQL keeps the first 63 bytes of an application_name (NAMEDATALEN - 1)."""

SCRIPT = PSQL + r"""
session_sql() { sql -v schema="$SCHEMA" -v table="$TABLE" -v app="$SESSION" "$@"; }
holder() { session_sql <<<"select pid from pg_stat_activity where application_name = :'app' limit 1;"; }
apply() {
  local found
  found=$(session_sql <<<"select to_regclass(format('%I.%I', :'schema', :'table')) is not null;") || return 2
  [ "$found" = t ] || { echo "no table $SCHEMA.$TABLE in the database"; return 2; }
  # stdin of psql: the statements, then a pipe kept open by sleep, so the transaction stays open with the session
  { printf '%s\n' "set lock_timeout = '10s';" "begin;" "lock table :\"schema\".:\"table\" in $MODE mode;" \
      "select 'outage-lab-locked';"; exec sleep 2147483647; } </dev/null 2>/dev/null \
    | PGAPPNAME="$SESSION" psql_session -v schema="$SCHEMA" -v table="$TABLE" -v app="$SESSION" \
      >/tmp/outage-lab-lock 2>&1 &
  echo $! >/tmp/outage-lab-lock-pid
  local waited=0
  until grep -q outage-lab-locked /tmp/outage-lab-lock 2>/dev/null; do
    if ! kill -0 $! 2>/dev/null || [ "$waited" -ge 300 ]; then
      echo "could not lock $SCHEMA.$TABLE: $(tr '\n' ' ' </tmp/outage-lab-lock)"; return 2
    fi
    sleep 0.05; waited=$((waited + 1))
  done
  echo "$MODE lock on $SCHEMA.$TABLE held by session $(holder) ($SESSION)"
}
revert() {
  local ended; ended=$(session_sql <<<"select count(pg_terminate_backend(pid)) from pg_stat_activity
                                      where application_name = :'app' and pid <> pg_backend_pid();") || return 2
  kill "$(cat /tmp/outage-lab-lock-pid 2>/dev/null)" 2>/dev/null  # its psql (this helper's, if it started one)
  [ "$ended" -gt 0 ] || { echo "no session $SESSION"; return 1; }
  echo "session $SESSION ended: its lock on $SCHEMA.$TABLE released"
}
verify() {
  local held; held=$(session_sql <<<"select count(*) from pg_locks l join pg_stat_activity a using (pid)
      where a.application_name = :'app' and l.granted
        and l.relation = to_regclass(format('%I.%I', :'schema', :'table'));") || return 2
  local waiting; waiting=$(session_sql <<<"select count(*) from pg_stat_activity a, pg_stat_activity h
      where h.application_name = :'app' and h.pid = any(pg_blocking_pids(a.pid));") || return 2
  echo "$held lock(s) on $SCHEMA.$TABLE held by $SESSION; $waiting session(s) waiting on it"
  [ "$held" -gt 0 ]
}
"""


class DbLockSpec(FaultSpec):
    """A table locked by a session that keeps its transaction open (a migration): queries on it queue."""

    kind: Literal["db-lock"]
    target: DatabaseService = Field(description="The PostgreSQL service.")
    schema_name: str = Field("public", alias="schema", pattern=IDENTIFIER, description="The table's schema.")
    table: str = Field(pattern=IDENTIFIER, description="The table to lock (a lowercase SQL name).")
    mode: Literal["access-exclusive", "exclusive", "share"] = Field(
        "access-exclusive", description="access-exclusive: every query waits (ALTER TABLE); exclusive: only reads "
                                        "go on; share: writes wait, reads go on (CREATE INDEX).")

    @field_validator("table")
    @classmethod
    def _known_table(cls, value: str, info: ValidationInfo) -> str:
        topology = topology_of(info)
        schema = info.data.get("schema_name", "public")
        if topology is not None and topology.tables and f"{schema}.{value}" not in topology.tables:
            raise ValueError(f"no table {schema}.{value} in the stack's database "
                             f"(known: {', '.join(topology.tables)})")
        return value


def plan(spec: DbLockSpec, target: FaultTarget, mark: str) -> list[HelperPlan]:
    env: dict[str, Any] = {**target.database_env(spec.target), "SCHEMA": spec.schema_name, "TABLE": spec.table,
                           "MODE": MODES[spec.mode], "SESSION": mark[:APPLICATION_NAME_MAX]}
    return [HelperPlan(name=spec.target, script=SCRIPT, image=target.image_of(spec.target),
                       network=target.network_of(spec.target), env=env)]


FAMILY = FaultFamily(
    spec=DbLockSpec, plan=plan,
    mechanism="a psql session from a helper on the stack's network holds LOCK TABLE in an open transaction; revert "
              "ends that session (pg_terminate_backend)",
    user_sees="queries on the table wait until their statement timeout ('canceling statement due to statement "
              "timeout'); pools run dry ('couldn't get a connection'); other tables are unaffected",
    example={"kind": "db-lock", "target": "db", "table": "orders"},
)
