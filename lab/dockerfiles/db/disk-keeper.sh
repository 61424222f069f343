#!/bin/sh
# The database's disk keeper (the stack's db-disk service): it keeps the disk, a tmpfs volume, mounted while the
# database restarts, and carries the cluster over a restart of the engine, which empties every tmpfs.
# Start: an empty disk gets the cluster (the copy saved at the engine's last stop, else the image's), then the
# ready mark the database waits for. Stop (only the engine's shutdown stops it: the lab removes a stack by force):
# once the server is down, the disk is saved in this container's layer for that next start. A database restart
# costs nothing: this container is not involved.
set -eu
disk=$(dirname "$PGDATA")
ready=$disk/.lab-disk-ready

restore() {
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
}

save() {
    # The engine stops the database at the same time: a copy of a running cluster would not be consistent. A
    # server stopped cleanly removes its lock file; one killed leaves it, and is copied after 5 s (the database's
    # grace period) as it is: it recovers from its WAL, as after a power cut.
    waited=0
    while [ -e "$PGDATA/postmaster.pid" ] && [ "$waited" -lt 50 ]; do sleep 0.1; waited=$((waited + 1)); done
    # Replace the saved copy only once the new one is whole: a stop cut short keeps the previous one.
    rm -rf "$LAB_SAVED_CLUSTER.new"
    if cp -R -p "$PGDATA/." "$LAB_SAVED_CLUSTER.new"; then
        rm -rf "$LAB_SAVED_CLUSTER" && mv "$LAB_SAVED_CLUSTER.new" "$LAB_SAVED_CLUSTER"
        echo "db-disk: the cluster is saved for the engine's next start"
    else
        rm -rf "$LAB_SAVED_CLUSTER.new"
        echo "db-disk: the cluster could not be saved; the next start has the previous copy" >&2
    fi
    exit 0
}

if [ "$(stat -f -c %T "$disk")" != tmpfs ]; then
    echo "db-disk: $disk is not the stack's tmpfs volume" >&2
    exit 2
fi
[ -s "$PGDATA/PG_VERSION" ] || restore
: > "$ready"
echo "db-disk: the cluster is on the disk"
trap save TERM INT
# `sleep` in the background: a trap runs only once the command in the foreground has returned, and `wait` returns
# at once on a signal.
sleep infinity &
wait $!
