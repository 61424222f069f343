#!/bin/sh
# Start: give the roles of the cluster baked into the image this run's password (once per container), then run
# postgres.
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
exec postgres -D "$PGDATA" -c listen_addresses='*' -c max_connections=100 \
    -c log_min_messages=warning -c log_line_prefix='%m [%p] '
