#!/bin/sh
# Start: wait until the cluster is on the disk (its keeper puts it there), give its roles this run's password (once
# per container), and run postgres (again should it fail, as a service manager would).
set -eu
: "${POSTGRES_USER:?}" "${POSTGRES_DB:?}" "${POSTGRES_PASSWORD:?}" "${POSTGRES_APP_USER:?}"
if [ "$POSTGRES_USER $POSTGRES_APP_USER $POSTGRES_DB" != "$LAB_BAKED_ROLES" ]; then
    echo "db: this image was initialised for roles and database '$LAB_BAKED_ROLES', not" \
         "'$POSTGRES_USER $POSTGRES_APP_USER $POSTGRES_DB'" >&2
    exit 2
fi
case $POSTGRES_PASSWORD in
    *[!A-Za-z0-9_-]*) echo "db: POSTGRES_PASSWORD may hold only letters, digits, '-' and '_'" >&2; exit 2 ;;
esac
# The cluster is on the disk once its keeper has put it there (disk-keeper.sh): at once, but for the first start
# and the engine's own restart.
waited=0
until [ -e "$(dirname "$PGDATA")/.lab-disk-ready" ]; do
    if [ "$waited" -ge 600 ]; then
        echo "db: no cluster on $(dirname "$PGDATA") after 60 s: is the db-disk service running?" >&2
        exit 2
    fi
    sleep 0.1
    waited=$((waited + 1))
done
if [ ! -e "$PGDATA/lab-password-set" ]; then
    # Single-user mode, before the server listens: no client ever sees the roles without their password. The
    # statement reaches postgres on its stdin (printf is a shell builtin: the password is on no command line),
    # and a failing statement is not echoed to the log.
    printf 'ALTER ROLE "%s" PASSWORD %s;\nALTER ROLE "%s" PASSWORD %s;\n' \
        "$POSTGRES_USER" "'$POSTGRES_PASSWORD'" "$POSTGRES_APP_USER" "'$POSTGRES_PASSWORD'" \
        | postgres --single -D "$PGDATA" -c log_min_error_statement=panic postgres >/dev/null
    : > "$PGDATA/lab-password-set"
    echo '{"event": "db_password_set"}'
fi
# The WAL kept between checkpoints is bounded (max_wal_size): it must not fill the bounded disk by itself.
stopping=0 server=
# The stop signal (SIGINT, fast shutdown) reaches this shell, not postgres: pass it on, then wait for the end.
trap 'stopping=1; [ -z "$server" ] || kill -INT "$server" 2>/dev/null || :' INT TERM
while :; do
    postgres -D "$PGDATA" -c listen_addresses='*' -c max_connections=100 -c max_wal_size=64MB \
        -c min_wal_size=16MB -c log_min_messages=warning -c log_line_prefix='%m [%p] ' &
    server=$!
    status=0
    while kill -0 "$server" 2>/dev/null; do
        wait "$server" && status=0 || status=$?
    done
    # A server that cannot start (its disk full: no room for postmaster.pid) or whose postmaster died is
    # started again while the container stays up, as systemd's Restart=on-failure does: the database is down,
    # and its files can still be reached (a fault reverted, space freed by a responder).
    if [ "$stopping" = 1 ] || [ "$status" = 0 ]; then break; fi
    echo "db: postgres exited with code $status; starting it again in 1 s" >&2
    sleep 1
    [ "$stopping" = 0 ] || break
done
exit "$status"
