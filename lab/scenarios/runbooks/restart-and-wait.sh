#!/usr/bin/env bash
# Runbook "restart it": restart each service in turn, as a responder would, and wait until it serves again before
# the next one, so that a rolling restart never takes every replica down at once. `lab restart` does both: it
# returns once the service answers (Docker's own health check would only say so at its next 5-s interval) and
# fails, with what the service last logged, if it does not within RESTART_WAIT_S.
#
# `lab run` runs it with the stack's names in the environment (LAB_RUN_ID, LAB_CONTAINER_<SERVICE>...) and `lab` on
# PATH. By hand, against a stack of `lab up`:
#     LAB_RUN_ID=<run id> scenarios/runbooks/restart-and-wait.sh db
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 SERVICE..." >&2; exit 2; }
: "${LAB_RUN_ID:?set LAB_RUN_ID to the run id of the stack (lab status lists them)}"

for service in "$@"; do
    lab restart --run "$LAB_RUN_ID" --wait-s "${RESTART_WAIT_S:-60}" "$service"
done
