#!/usr/bin/env bash
# Runbook "an app server's route to the database swallows its traffic": on each app server (all at once, as a
# responder fixing a fleet would), delete the blackhole, unreachable or prohibit routes that capture the database's
# address, and confirm that the server reaches the database's port again.
#
# `lab run` runs it as a responder would, with the stack's names in the environment (LAB_RUN_ID...) and `lab` on
# PATH. By hand, against a stack of `lab up`:
#     LAB_RUN_ID=<run id> scenarios/runbooks/remove-blackhole-route.sh db 5432 app-1 app-2
set -euo pipefail
database=${1:?usage: $0 DATABASE_SERVICE PORT SERVICE...}
port=${2:?usage: $0 DATABASE_SERVICE PORT SERVICE...}
shift 2
[ $# -gt 0 ] || { echo "usage: $0 DATABASE_SERVICE PORT SERVICE..." >&2; exit 2; }
: "${LAB_RUN_ID:?set LAB_RUN_ID to the run id of the stack (lab status lists them)}"

# Runs inside the server's network namespace, in one `lab exec`: each one starts a tools container.
# shellcheck disable=SC2016
repair='
database=$1 port=$2
address=$(getent ahostsv4 "$database" | awk "{print \$1; exit}")
[ -n "$address" ] || { echo "cannot resolve $database" >&2; exit 1; }
echo "route to $database ($address): $(ip route get "$address" 2>&1 | head -n 1)"
deleted=0
for type in blackhole unreachable prohibit; do
    while IFS= read -r route; do
        [ -n "$route" ] || continue
        read -ra spec <<<"$route"
        ip route del "${spec[@]}"
        echo "deleted route $route"
        deleted=$((deleted + 1))
    done < <(ip route show type "$type" | grep -E "(^|[ ])$address(/32)?( |$)" || true)
done
if timeout 3 bash -c "exec 3<>/dev/tcp/$address/$port"; then
    echo "reaches $database:$port again ($deleted route(s) deleted)"
else
    echo "still cannot reach $database:$port ($deleted route(s) deleted)" >&2
    exit 1
fi'

pids=()
for service in "$@"; do
    (lab exec --run "$LAB_RUN_ID" --netns "$service" -- bash -c "$repair" repair "$database" "$port" 2>&1 \
        | sed "s/^/$service: /") &
    pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
exit $failed
