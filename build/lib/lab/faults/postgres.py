"""Bash for the database families' helpers: psql as the database's administrator (libpq reads the connection
and the password from the environment), with the role and the client address passed as psql variables so that
no value is ever pasted into SQL text."""

from __future__ import annotations

PSQL = r"""
sql() { psql -X -A -t -q -v ON_ERROR_STOP=1 -v role="${ROLE-}" -v ip="${CLIENT_IP-}" "$@"; }
"""
