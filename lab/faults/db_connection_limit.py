"""db-connection-limit: a database role's connection limit lowered below what its clients' pools need (a
connection ceiling reached, as in GitHub's 2022 and 2024 incidents).

A helper on the stack's network (the database's own image: psql; no capability at all) runs
`ALTER ROLE ... CONNECTION LIMIT n` and, by default, closes the role's open connections so that the pools must
reconnect under the new ceiling. Superusers are exempt from the limit, so `role` must be the role the apps log in
with. Revert sets back the limit the role had (-1, unlimited, if the helper that saw it is gone), and only if the
limit is still the one the fault set: a responder's own fix is left alone.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lab.document import DatabaseService
from lab.faults.base import FaultFamily, FaultSpec, FaultTarget, HelperPlan
from lab.faults.postgres import PSQL

SCRIPT = PSQL + r"""
limit_now() { sql <<<"select rolconnlimit from pg_roles where rolname = :'role';"; }
connections() { sql <<<"select count(*) from pg_stat_activity where usename = :'role';"; }
apply() {
  local previous; previous=$(limit_now) || return 2
  [ -n "$previous" ] || { echo "no role $ROLE in the database"; return 2; }
  echo "$previous" >/tmp/outage-lab-previous-limit
  sql <<<"alter role :\"role\" connection limit $LIMIT;" || return 2
  local closed=0
  if [ "$TERMINATE" = 1 ]; then
    closed=$(sql <<<"select count(pg_terminate_backend(pid)) from pg_stat_activity where usename = :'role';")
  fi
  echo "connection limit of $ROLE: $previous -> $LIMIT; $closed open connection(s) closed"
}
revert() {
  local now previous; now=$(limit_now) || return 2
  [ "$now" = "$LIMIT" ] || { echo "connection limit of $ROLE is $now, not the fault's $LIMIT"; return 1; }
  previous=$(cat /tmp/outage-lab-previous-limit 2>/dev/null || echo -1)
  sql <<<"alter role :\"role\" connection limit $previous;" && echo "connection limit of $ROLE back to $previous"
}
verify() {
  local now; now=$(limit_now) || return 2
  echo "connection limit of $ROLE is $now; $(connections) open"
  [ "$now" = "$LIMIT" ]
}
"""


class DbConnectionLimitSpec(FaultSpec):
    """A database role's connection limit lowered below what its clients' pools need."""

    kind: Literal["db-connection-limit"]
    target: DatabaseService = Field(description="The PostgreSQL service.")
    role: str = Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                      description="The role the apps log in with (not a superuser: those are exempt).")
    limit: int = Field(strict=True, ge=0, le=10_000, description="The new connection limit.")
    terminate_existing: bool = Field(True, description="Close the role's open connections, so pools reconnect.")


def plan(spec: DbConnectionLimitSpec, target: FaultTarget, mark: str) -> list[HelperPlan]:
    return [HelperPlan(
        name=spec.target, script=SCRIPT, image=target.image_of(spec.target), network=target.network_of(spec.target),
        env={**target.database_env(spec.target), "ROLE": spec.role, "LIMIT": str(spec.limit),
             "TERMINATE": "1" if spec.terminate_existing else "0"},
    )]


FAMILY = FaultFamily(
    spec=DbConnectionLimitSpec, plan=plan,
    mechanism="ALTER ROLE ... CONNECTION LIMIT from a helper with psql on the stack's network (no capability)",
    user_sees="new connections refused: 'FATAL: too many connections for role ...'; pools time out",
    example={"kind": "db-connection-limit", "target": "db", "role": "orders_app", "limit": 4},
)
