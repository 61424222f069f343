"""db-access-rule: the database's pg_hba.conf is changed and reloaded so that one client host is refused (an
access rule gone wrong after a change, valid clients rejected).

A helper on the stack's network mounts the database's volumes (the database's own image; it runs as that image's
user, with no capability) and puts a `reject` line for the client's address, marked with the fault's comment,
at the top of pg_hba.conf, then asks the server to reload it (`pg_reload_conf()`). By default it also closes the
client's open connections, which the new rule does not affect. Revert removes the marked lines and reloads.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from lab.faults.base import FaultFamily, FaultSpec, FaultTarget, HelperPlan
from lab.faults.postgres import PSQL
from lab.model import DatabaseService, ServiceName

SCRIPT = PSQL + r"""
hba="$PGDATA/pg_hba.conf"
reload() { sql <<<"select pg_reload_conf();" >/dev/null; }
apply() {
  [ -w "$hba" ] || { echo "cannot write $hba"; return 2; }
  if ! grep -qF -- "$MARK" "$hba"; then
    local rest; rest=$(cat "$hba") || return 2
    printf 'host %s %s %s/32 reject  # %s\n%s\n' "$DATABASE" "$DB_USER" "$CLIENT_IP" "$MARK" "$rest" >"$hba" || return 2
  fi
  reload || return 2
  local closed=0
  if [ "$TERMINATE" = 1 ]; then
    closed=$(sql <<<"select count(pg_terminate_backend(pid)) from pg_stat_activity where client_addr = :'ip';")
  fi
  echo "pg_hba.conf rejects $CLIENT_NAME ($CLIENT_IP); $closed open connection(s) closed"
}
revert() {
  grep -qF -- "$MARK" "$hba" || return 1
  local kept; kept=$(grep -vF -- "$MARK" "$hba")
  printf '%s\n' "$kept" >"$hba" && reload && echo "rule removed from pg_hba.conf"
}
verify() {
  local line; line=$(grep -F -- "$MARK" "$hba")
  echo "${line:-no line of the lab in pg_hba.conf}"
  [ -n "$line" ]
}
"""


class DbAccessRuleSpec(FaultSpec):
    """The database's pg_hba.conf refuses one client host (reloaded, so at once for new connections)."""

    kind: Literal["db-access-rule"]
    peer: ClassVar[str | None] = "client"
    target: DatabaseService = Field(description="The PostgreSQL service.")
    client: ServiceName = Field(description="The service whose connections the database refuses.")
    database: str = Field("all", pattern=r"^[A-Za-z0-9_,]+$", description="pg_hba database field.")
    user: str = Field("all", pattern=r"^[A-Za-z0-9_,]+$", description="pg_hba user field.")
    terminate_existing: bool = Field(True, description="Close the client's open connections too.")




def plan(spec: DbAccessRuleSpec, target: FaultTarget, mark: str) -> list[HelperPlan]:
    client_ip = target.address(spec.client, seen_from=spec.target)
    return [HelperPlan(
        name=spec.target, script=SCRIPT, image=target.image_of(spec.target), network=target.network_of(spec.target),
        volumes_of=spec.target,
        env={**target.database_env(spec.target), "ROLE": spec.user, "CLIENT_IP": client_ip,
             "CLIENT_NAME": spec.client, "DATABASE": spec.database, "DB_USER": spec.user,
             "TERMINATE": "1" if spec.terminate_existing else "0"},
    )]


FAMILY = FaultFamily(
    spec=DbAccessRuleSpec, plan=plan,
    mechanism="a marked `reject` line for the client at the top of pg_hba.conf, then pg_reload_conf()",
    user_sees="the client's new connections refused: 'FATAL: pg_hba.conf rejects connection for host ...'",
    example={"kind": "db-access-rule", "target": "db", "client": "app-2"},
)
