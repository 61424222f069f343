#!/usr/bin/env bash
# Runbook "restart it": restart each service in turn, as a responder would (`lab restart`), and wait until Docker
# reports it healthy again before the next one, so that a rolling restart never takes every replica down at once.
#
# `lab run` runs it with the stack's names in the environment (LAB_RUN_ID, LAB_CONTAINER_<SERVICE>...) and `lab` on
# PATH. By hand, against a stack of `lab up`:
#     LAB_RUN_ID=<run id> LAB_CONTAINER_DB=<container> scenarios/runbooks/restart-and-wait.sh db
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 SERVICE..." >&2; exit 2; }
: "${LAB_RUN_ID:?set LAB_RUN_ID to the run id of the stack (lab status lists them)}"
wait_s=${RESTART_WAIT_S:-60}

for service in "$@"; do
    variable="LAB_CONTAINER_$(tr 'a-z-' 'A-Z_' <<<"$service")"
    container=${!variable:?set $variable to the container of $service}
    lab restart --run "$LAB_RUN_ID" "$service"
    health=unknown
    for _ in $(seq 1 $((wait_s * 5))); do
        health=$(docker inspect --format '{{.State.Health.Status}}' "$container")
        [ "$health" = healthy ] && break
        sleep 0.2
    done
    if [ "$health" != healthy ]; then
        echo "$service is still $health ${wait_s} s after its restart" >&2
        exit 1
    fi
    echo "$service restarted and healthy"
done
