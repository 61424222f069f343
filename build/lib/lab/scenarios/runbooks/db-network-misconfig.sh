#!/usr/bin/env bash
# Runbook "an app server cannot reach the database": find the packet-filter rules that drop or reject the app
# server's traffic to the database port, delete them, and confirm the path is open again.
#
# `lab run` runs it as a responder would, with the stack's names in the environment (LAB_RUN_ID, COMPOSE_PROJECT_NAME,
# LAB_CONTAINER_<SERVICE>...) and `lab` on PATH. By hand, against a stack of `lab up`:
#     LAB_RUN_ID=<run id> scenarios/runbooks/db-network-misconfig.sh app-2 db 5432
set -euo pipefail
service=${1:?usage: $0 APP_SERVICE DATABASE_SERVICE PORT}
database=${2:?usage: $0 APP_SERVICE DATABASE_SERVICE PORT}
port=${3:?usage: $0 APP_SERVICE DATABASE_SERVICE PORT}
: "${LAB_RUN_ID:?set LAB_RUN_ID to the run id of the stack (lab status lists them)}"

in_netns() { lab exec --run "$LAB_RUN_ID" --netns "$service" -- "$@"; }

rules=$(in_netns iptables -S OUTPUT)
echo "packet filter of $service (OUTPUT chain):"
printf '  %s\n' "$rules"

deleted=0
while IFS= read -r rule; do
    case "$rule" in
        "-A OUTPUT "*"--dport $port "*"-j DROP"* | "-A OUTPUT "*"--dport $port "*"-j REJECT"*) ;;
        *) continue ;;
    esac
    read -ra spec <<<"${rule//\"/}"  # iptables -S quotes comments; the rule is given back without them
    spec[0]=-D
    in_netns iptables "${spec[@]}"
    echo "deleted: $rule"
    deleted=$((deleted + 1))
done <<<"$rules"
echo "$deleted rule(s) deleted"

if in_netns timeout 3 bash -c "exec 3<>/dev/tcp/$database/$port"; then
    echo "$service reaches $database:$port again"
else
    echo "$service still cannot reach $database:$port" >&2
    exit 1
fi
