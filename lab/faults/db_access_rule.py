"""db-access-rule: the database's pg_hba.conf is changed and reloaded so that one client host is refused (an
access rule gone wrong after a change, valid clients rejected).

A helper on the stack's network (the database's own image, running as that image's user, with no capability)
asks the server where its pg_hba.conf is (`SHOW hba_file`) and edits that file where the server reads it: through
the root of the database's PID 1 (the helper shares its PID namespace: a file in the container's own layer is
reached so too), else at the same path in the database's volumes, which the helper mounts. It puts a
`reject` line for the client's address, marked with the fault's comment, at the top, asks the server to reload
(`pg_reload_conf()`) and checks that the server now reads that rule (`pg_hba_file_rules`). By default it also
closes the client's open connections, which the new rule does not affect. Revert removes the marked lines and
reloads.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from lab.document import DatabaseService, ServiceName
from lab.faults.base import FaultFamily, FaultSpec, FaultTarget, HelperPlan
from lab.faults.postgres import PSQL

SCRIPT = PSQL + r"""
hba_path() {
  local path; path=$(sql <<<"show hba_file;") || return 2
  if [ -r "/proc/1/root$path" ]; then echo "/proc/1/root$path"; else echo "$path"; fi
}
reload() { sql <<<"select pg_reload_conf();" >/dev/null; }
apply() {
  local hba; hba=$(hba_path) || { echo "cannot ask the server for its hba_file"; return 2; }
  [ -w "$hba" ] || { echo "cannot write $hba"; return 2; }
  if ! grep -qF -- "$MARK" "$hba"; then
    local rest; rest=$(cat "$hba") || return 2
    printf 'host %s %s %s/32 reject  # %s\n%s\n' "$DATABASE" "$DB_USER" "$CLIENT_IP" "$MARK" "$rest" >"$hba" || return 2
  fi
  reload || return 2
  local seen; seen=$(sql <<<"select count(*) from pg_hba_file_rules where auth_method = 'reject' and address = :'ip';")
  local bad; bad=$(sql <<<"select count(*) from pg_hba_file_rules where error is not null;")
  if ! [ "$seen" -gt 0 ] 2>/dev/null || [ "$bad" != 0 ]; then  # the wrong file, or one the server refuses
    revert >/dev/null
    echo "the server does not take the rule written to $hba (rules found: ${seen:-none}, lines in error: ${bad:-?})"
    return 2
  fi
  local closed=0
  if [ "$TERMINATE" = 1 ]; then
    closed=$(sql <<<"select count(pg_terminate_backend(pid)) from pg_stat_activity where client_addr = :'ip';")
  fi
  echo "pg_hba.conf rejects $CLIENT_NAME ($CLIENT_IP); $closed open connection(s) closed"
}
revert() {
  local hba; hba=$(hba_path) || return 2
  grep -qF -- "$MARK" "$hba" || return 1
  local kept; kept=$(grep -vF -- "$MARK" "$hba")
  printf '%s\n' "$kept" >"$hba" && reload && echo "rule removed from pg_hba.conf"
}
verify() {
  local hba; hba=$(hba_path) || return 2
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
        volumes_of=spec.target, files_of=spec.target,
        env={**target.database_env(spec.target), "ROLE": spec.user, "CLIENT_IP": client_ip,
             "CLIENT_NAME": spec.client, "DATABASE": spec.database, "DB_USER": spec.user,
             "TERMINATE": "1" if spec.terminate_existing else "0"},
    )]


FAMILY = FaultFamily(
    spec=DbAccessRuleSpec, plan=plan,
    mechanism="a marked `reject` line for the client at the top of the server's pg_hba.conf, then pg_reload_conf()",
    user_sees="the client's new connections refused: 'FATAL: pg_hba.conf rejects connection for host ...'",
    example={"kind": "db-access-rule", "target": "db", "client": "app-2"},
)
