#!/bin/sh
# Build time: initialise the cluster and create the roles and the database, without passwords (nobody can log in
# over TCP until the entrypoint has set the run's password). Single-user mode: no server, no socket, no port.
set -eu
admin=$1 app=$2 database=$3
initdb --username="$admin" --auth-host=scram-sha-256 --auth-local=trust --encoding=UTF8 --no-instructions \
    --wal-segsize=1 -D "$PGDATA" >/dev/null
echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
# The apps' role owns the database (and so its public schema) without being a superuser.
postgres --single -D "$PGDATA" postgres >/dev/null <<SQL
CREATE ROLE "$app" LOGIN;
CREATE DATABASE "$database" OWNER "$app";
SQL
