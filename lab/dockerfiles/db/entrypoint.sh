#!/bin/sh
# Initialise the cluster on first start (empty volume), then run postgres as PID 1.
set -eu
: "${POSTGRES_USER:?}" "${POSTGRES_DB:?}" "${POSTGRES_PASSWORD:?}" "${POSTGRES_APP_USER:?}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-host=scram-sha-256 --auth-local=trust \
        --encoding=UTF8 --no-instructions -D "$PGDATA" >/dev/null
    rm -f "$pwfile"
    echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    # The apps' role owns the database (and so its public schema) without being a superuser. The password goes
    # from the environment into a psql variable (\getenv), never onto a command line.
    psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres -q <<'SQL'
\getenv app POSTGRES_APP_USER
\getenv pw POSTGRES_PASSWORD
\getenv db POSTGRES_DB
CREATE ROLE :"app" LOGIN PASSWORD :'pw';
CREATE DATABASE :"db" OWNER :"app";
SQL
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo '{"event": "db_initialised"}'
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c max_connections=100 \
    -c log_min_messages=warning -c log_line_prefix='%m [%p] '
