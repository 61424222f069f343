"""Bash for the families that change a container's settings through the Docker engine's API, as `docker update`
does (cpu-limit, memory-limit): curl on the engine's socket, jq to read its answers. A hand-written client,
because the helper is bash in the tools image (no Python there): two functions, one request each.

Every change is made to one container, by the id the lab planned with, and only after its labels say it is this
run's: the helper can reach the whole engine, so it checks before every action, as the lab does."""

from __future__ import annotations

from lab.stack import labels

ENGINE = r"""
engine() {  # METHOD PATH [JSON]: the engine's answer on stdout; an HTTP error is said on stdout, status 2
  local out code
  out=$(curl -sS --max-time 20 --unix-socket /var/run/docker.sock -X "$1" -H 'Content-Type: application/json' \
        ${3:+--data "$3"} -w '\n%{http_code}' "http://engine$2") \
    || { echo "engine: $1 $2: ${out:-no answer}"; return 2; }
  code=${out##*$'\n'}; out=${out%$'\n'*}
  if [ "${code:0:1}" != 2 ]; then
    echo "engine: $(jq -r '.message // .' <<<"$out" 2>/dev/null || echo "$out") (HTTP $code)"; return 2
  fi
  printf '%s\n' "$out"
}
inspect_ours() {  # the target's inspect JSON, once its labels say it is this run's container
  local seen; seen=$(engine GET "/containers/$CONTAINER/json") || { echo "$seen"; return 2; }
  if [ "$(jq -r --arg managed "$MANAGED_LABEL" --arg run "$RUN_LABEL" \
          '(.Config.Labels[$managed] // "") + " " + (.Config.Labels[$run] // "")' <<<"$seen")" != "true $RUN_ID" ]; then
    echo "container $CONTAINER does not carry run $RUN_ID's labels: not touched"; return 2
  fi
  printf '%s\n' "$seen"
}
update_ours() {  # JSON: the engine's update of the target, labels checked first
  local said; said=$(inspect_ours) || { echo "$said"; return 2; }
  said=$(engine POST "/containers/$CONTAINER/update" "$1") || { echo "$said"; return 2; }
}
"""


def engine_env(container_id: str, run_id: str) -> dict[str, str]:
    """What ENGINE's functions read: the target's container and the labels it must carry."""
    return {"CONTAINER": container_id, "RUN_ID": run_id, "MANAGED_LABEL": labels.MANAGED, "RUN_LABEL": labels.RUN}
