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
    signalled=$(date +%s)
    # The engine stops the database at the same time: a copy of a running cluster would not be consistent. A
    # server stopped cleanly removes its lock file; one killed leaves it, and is copied after 5 s (the database's
    # grace period) as it is: it recovers from its WAL, as after a power cut.
    waited=0
    while [ -e "$PGDATA/postmaster.pid" ] && [ "$waited" -lt 50 ]; do sleep 0.1; waited=$((waited + 1)); done
    # A copy counts only if nothing on the disk changed while it was made: an engine that stops while the database
    # restarts may start the server again under the copy (its restart goes on during the shutdown). Such a copy is
    # made again until one is whole, within LAB_SAVE_WITHIN_S of the signal (compose/stack.yaml keeps it under the
    # grace period); a stop cut short keeps the previous one.
    tries=0
    while [ "$(date +%s)" -lt $((signalled + LAB_SAVE_WITHIN_S)) ]; do
        tries=$((tries + 1))
        rm -rf "$LAB_SAVED_CLUSTER.new"
        : > "$LAB_SAVED_CLUSTER.copy-started"
        if cp -R -p "$PGDATA/." "$LAB_SAVED_CLUSTER.new" 2>/dev/null \
                && [ -z "$(find "$PGDATA" -newer "$LAB_SAVED_CLUSTER.copy-started" -print -quit)" ]; then
            rm -rf "$LAB_SAVED_CLUSTER" && mv "$LAB_SAVED_CLUSTER.new" "$LAB_SAVED_CLUSTER"
            echo "db-disk: the cluster is saved for the engine's next start (copy $tries)"
            exit 0
        fi
        sleep 0.5
    done
    rm -rf "$LAB_SAVED_CLUSTER.new"
    echo "db-disk: the cluster kept changing while it was copied; the next start has the previous copy" >&2
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
