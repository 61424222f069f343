#!/bin/sh
# First start: a cluster whose administrator and app role come from the environment, and the notes schema.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp); printf '%s\n' "$NOTES_ADMIN_PASSWORD" >"$pwfile"
    initdb --username="$NOTES_ADMIN_USER" --pwfile="$pwfile" --auth-host=scram-sha-256 --auth-local=trust \
        -D "$PGDATA" >/dev/null
    rm -f "$pwfile"
    echo "host all all 0.0.0.0/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    psql -v ON_ERROR_STOP=1 -U "$NOTES_ADMIN_USER" -d postgres -q <<'SQL'
\getenv apppw NOTES_APP_PASSWORD
CREATE ROLE notes_app LOGIN PASSWORD :'apppw';
CREATE DATABASE notes OWNER notes_app;
\connect notes
SET ROLE notes_app;
CREATE TABLE notes (note_id serial PRIMARY KEY, body text NOT NULL, written_at timestamptz NOT NULL DEFAULT now());
SQL
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c log_min_messages=warning
