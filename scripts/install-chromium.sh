#!/usr/bin/env bash
# Installs headless Chromium from Debian's packages for the HTML report's browser tests.
# Idempotent: does nothing when chromium is already on PATH. Needs root (CI runs as root).
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    echo "chromium present: $(chromium --version 2>/dev/null | head -n 1)"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "chromium installed: $(chromium --version 2>/dev/null | head -n 1)"
