#!/bin/sh
# Start: put the cluster in the data directory if it is empty (the stack's tmpfs volume, empty when the engine has
# restarted: the copy saved at the last stop, else the image's), give its roles this run's password (once per
# container), run postgres (again should it fail, as a service manager would), and at the stop save the cluster in
# the container's layer for that next start (see the Dockerfile).
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
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    from=$LAB_INITIAL_CLUSTER
    [ -s "$LAB_SAVED_CLUSTER/PG_VERSION" ] && from=$LAB_SAVED_CLUSTER
    mkdir -p -m 0700 "$PGDATA"
    # The cluster first, then the files the disk-full family wrote (*.fill) as far as they fit: a full disk is
    # full again after a restart, and never at the cost of the cluster's own files.
    for entry in "$from"/*; do
        case $entry in *.fill) ;; *) cp -R -p "$entry" "$PGDATA/" ;; esac
    done
    for entry in "$from"/*.fill; do
        if [ -e "$entry" ]; then cp -p "$entry" "$PGDATA/" 2>/dev/null || :; fi
    done
fi
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
if [ "$(stat -f -c %T "$PGDATA")" = tmpfs ]; then
    # Replace the saved copy only once the new one is whole: a stop cut short keeps the previous one.
    rm -rf "$LAB_SAVED_CLUSTER.new"
    if cp -R -p "$PGDATA/." "$LAB_SAVED_CLUSTER.new"; then
        rm -rf "$LAB_SAVED_CLUSTER" && mv "$LAB_SAVED_CLUSTER.new" "$LAB_SAVED_CLUSTER"
    else
        rm -rf "$LAB_SAVED_CLUSTER.new"
    fi
fi
exit "$status"
