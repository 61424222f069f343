#!/usr/bin/env bash
# The notes team's runbook step: delete the packet-filter rules in the API's network namespace that reject its
# traffic to PostgreSQL (by their line numbers, last first), then check that the API answers again.
set -euo pipefail
: "${LAB_RUN_ID:?run by lab run (or set LAB_RUN_ID to the run id)}"
numbers=$(lab exec --run "$LAB_RUN_ID" --netns api -- iptables -L OUTPUT -n --line-numbers \
          | awk '$2 == "REJECT" && /dpt:5432/ {print $1}' | sort -rn)
for number in $numbers; do
    lab exec --run "$LAB_RUN_ID" --netns api -- iptables -D OUTPUT "$number"
    echo "deleted rule $number of the API's OUTPUT chain"
done
lab exec --run "$LAB_RUN_ID" api -- php -r 'new PDO(getenv("NOTES_DSN"), "notes_app", getenv("NOTES_APP_PASSWORD")); echo "the API reaches the database again\n";'
