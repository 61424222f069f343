#!/usr/bin/env bash
# Runbook "the app servers cannot resolve the database's name": on each app server (all at once, as a responder
# fixing a fleet would), check whether NAME resolves; where it does not, delete the packet-filter rules that send
# the server's DNS questions anywhere but Docker's own resolver (127.0.0.11), and confirm the name resolves again.
#
# `lab run` runs it as a responder would, with the stack's names in the environment (LAB_RUN_ID...) and `lab` on
# PATH. By hand, against a stack of `lab up`:
#     LAB_RUN_ID=<run id> scenarios/runbooks/restore-dns.sh db app-1 app-2 app-3
set -euo pipefail
name=${1:?usage: $0 NAME SERVICE...}
shift
[ $# -gt 0 ] || { echo "usage: $0 NAME SERVICE..." >&2; exit 2; }
: "${LAB_RUN_ID:?set LAB_RUN_ID to the run id of the stack (lab status lists them)}"

# Runs inside the server's network namespace, in one `lab exec`: each one starts a tools container.
# shellcheck disable=SC2016
repair='
name=$1
if getent ahostsv4 "$name" >/dev/null; then echo "$name resolves, nothing to do"; exit 0; fi
deleted=0
while IFS= read -r rule; do
    case "$rule" in "-A OUTPUT "*"--dport 53 "*"-j DNAT "*) ;; *) continue ;; esac
    case "$rule" in *"--to-destination 127.0.0.11"*) continue ;; esac
    read -ra spec <<<"${rule//\"/}"  # iptables -S quotes comments; the rule is given back without them
    spec[0]=-D
    iptables -t nat "${spec[@]}"
    echo "deleted $rule"
    deleted=$((deleted + 1))
done < <(iptables -t nat -S OUTPUT)
if address=$(getent ahostsv4 "$name" | awk "{print \$1; exit}") && [ -n "$address" ]; then
    echo "$name resolves to $address again ($deleted rule(s) deleted)"
else
    echo "$name still does not resolve ($deleted rule(s) deleted)" >&2
    exit 1
fi'

pids=()
for service in "$@"; do
    (lab exec --run "$LAB_RUN_ID" --netns "$service" -- bash -c "$repair" repair "$name" 2>&1 | sed "s/^/$service: /") &
    pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
exit $failed
