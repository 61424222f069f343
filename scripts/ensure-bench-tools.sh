#!/usr/bin/env bash
# Tools the benchmarks use besides Docker: Debian's wrk, the load tool the lab's own generator is compared with.
set -euo pipefail
if command -v wrk >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "ensure-bench-tools: wrk is missing; install it (Debian: apt-get install wrk) for the load comparison" >&2
    exit 1
fi
echo "ensure-bench-tools: installing wrk" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
