"""Bash for the database families' helpers: psql as the database's administrator (libpq reads the connection
and the password from the environment), with the role and the client address passed as psql variables so that
no value is ever pasted into SQL text.

`sql` runs the statements on its stdin, each try bounded: a helper's psql that hung on its connection (seen once in
a few hundred runs on a loaded host, for over 30 s, while a fresh container's connected at once) would hold the
helper, and with it the fault's verify and revert, past the lab's wait for a reply. A try that could not connect or
ran out of time is made again; the statements are idempotent (they set a state, or count what they changed).
`psql_session` is psql unbounded, for a session a family keeps open on purpose (db-lock's)."""

from __future__ import annotations

PSQL = r"""
psql_flags=(-X -A -t -q -v ON_ERROR_STOP=1 -v "role=${ROLE-}" -v "ip=${CLIENT_IP-}")
psql_session() { psql "${psql_flags[@]}" "$@"; }
sql() {
  local input rc try; input=$(cat)
  for try in 1 2 3; do
    PGCONNECT_TIMEOUT=3 timeout 6 psql "${psql_flags[@]}" "$@" <<<"$input" 2>"${TMPDIR:-/tmp}/outage-lab-psql-error"
    rc=$?
    case $rc in 2|124) ;; *) break ;; esac  # 2: no connection, or it broke; 124: out of time
  done
  cat "${TMPDIR:-/tmp}/outage-lab-psql-error" >&2
  return "$rc"
}
"""
