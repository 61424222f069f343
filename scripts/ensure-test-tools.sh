#!/usr/bin/env bash
# Tools the tests use besides Docker: Debian's chromium renders report.html in a real headless browser.
set -euo pipefail
if command -v chromium >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "ensure-test-tools: chromium is missing; install it (Debian: apt-get install chromium) for the browser test" >&2
    exit 0  # the browser test skips outside CI, and fails in CI where this script runs as root
fi
echo "ensure-test-tools: installing chromium" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
