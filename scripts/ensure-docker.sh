#!/usr/bin/env bash
# Make sure a Docker engine answers. On a Debian machine where we are root and none runs, install
# docker.io (and debootstrap, which bootstraps the base image offline) and start dockerd in the background.
set -euo pipefail

log() { echo "ensure-docker: $*" >&2; }

if docker info >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "no Docker engine answers, and this is not a Debian machine where we are root: start Docker, then retry"
    exit 3
fi

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v iptables >/dev/null || missing+=(iptables)
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's docker.io may bring an older client than one already on PATH; either talks to the engine.

if ! pgrep -x dockerd >/dev/null; then
    log "starting dockerd (log: /var/log/outage-lab-dockerd.log)"
    # The daemon keeps none of our inherited descriptors beyond 0-2: a caller's `flock` lock on one of them
    # would otherwise be held for as long as dockerd lives.
    (
        for fd in /proc/self/fd/*; do
            fd=${fd##*/}
            if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        exec nohup dockerd >>/var/log/outage-lab-dockerd.log 2>&1 </dev/null
    ) &
    # Marks this daemon as the lab's own: only then may the daemon-restart test restart it.
    mkdir -p /run/outage-lab && echo $! >/run/outage-lab/dockerd.pid
fi

if ! timeout 60 bash -c 'until docker info >/dev/null 2>&1; do sleep 0.5; done'; then
    log "dockerd did not answer within 60 s; its log ends with:"
    tail -n 5 /var/log/outage-lab-dockerd.log >&2 || true
    exit 3
fi
log "Docker engine $(docker info --format '{{.ServerVersion}}') is up"
