#!/usr/bin/env bash
# On the GPU host: make sure the stand-ins exist under $SERVELAB_MODELS/standins (generate the
# missing ones with the host's torch + transformers) and print what is there.
#   SERVELAB_MODELS=/path/with/stories260k PYTHONPATH=/tmp/site bash benchmarks/standins/run_on_gpu.sh
# vLLM 0.22 reads Gemma 4's global_head_dim as a config attribute: transformers 5.15+ turns it
# into a per-layer config (config.head_dim then raises), so put transformers 5.14.x (+ its
# tokenizers) first on PYTHONPATH for the vLLM runs. See benchmarks/standins/SOURCES.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${SERVELAB_MODELS:?set SERVELAB_MODELS to the folder holding stories260k/}"
out="$SERVELAB_MODELS/standins"
python3 -c "import transformers, torch; print('transformers', transformers.__version__, 'torch', torch.__version__)"
missing=()
for name in gemma4-target gemma4-assistant gemma4-dflash qwen3.6-35b-a3b-mtp nemotron-h; do
  if [ -e "$out/$name/config.json" ] || [ -e "$out/$name/model.gguf" ]; then
    echo "present: $out/$name"
  else
    missing+=("$name")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  (IFS=,; echo "generating: ${missing[*]}"; python3 "$here/make_standins.py" --only "${missing[*]}")
fi
du -sh "$out"/* 2>/dev/null || true
