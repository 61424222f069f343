#!/usr/bin/env bash
# Runbook "the edge answers errors the origin does not": list the load balancer's rules that answer requests
# itself instead of passing them to the apps (the built-in HAProxy's http-error map, through its runtime API),
# delete them, and confirm none is left.
#
# `lab run` runs it as a responder would, with the stack's names in the environment (LAB_RUN_ID, ...) and `lab` on
# PATH. By hand, against a stack of `lab up`:
#     LAB_RUN_ID=<run id> scenarios/runbooks/disable-edge-rule.sh lb
set -euo pipefail
lb=${1:?usage: $0 LB_SERVICE}
map=/etc/haproxy/http-error.map
: "${LAB_RUN_ID:?set LAB_RUN_ID to the run id of the stack (lab status lists them)}"

# One command to HAProxy's runtime API on the LB's own loopback (haproxy.cfg's `stats socket`): it answers, then
# closes the connection.
api() {
    lab exec --run "$LAB_RUN_ID" --netns "$lb" -- \
        bash -c 'exec 3<>/dev/tcp/127.0.0.1/9999 && printf "%s\n" "$1" >&3 && timeout 5 cat <&3' api "$1"
}

rules=$(api "show map $map")
echo "rules of $lb that answer requests itself ($map):"
printf '  %s\n' "${rules:-(none)}"

deleted=0
while read -r reference path answer; do
    [ -n "$reference" ] || continue
    api "del map $map #$reference" >/dev/null
    echo "deleted: $path -> $answer"
    deleted=$((deleted + 1))
done <<<"$rules"
echo "$deleted rule(s) deleted"

left=$(api "show map $map")
if [ -n "${left//[[:space:]]/}" ]; then
    echo "rules still in $map: $left" >&2
    exit 1
fi
echo "$lb passes every request to the apps again"
