#!/usr/bin/env bash
# servelab end to end on a real vLLM (GPU host, offline), beside `vllm bench serve` and the
# server's own counters. Run from the repository root, in parts that each fit a 10-minute call:
#
#   benchmarks/gpu/run_vllm.sh setup   STAGE   # install vLLM (STAGE holds install.sh + wheels),
#                                         # servelab's deps (STAGE/slw), the stand-in models
#   benchmarks/gpu/run_vllm.sh a               # stories260k; 1B no-spec; 1B + itself as draft
#   benchmarks/gpu/run_vllm.sh b               # 1B + random draft; 1B + n-gram
#   benchmarks/gpu/run_vllm.sh c               # too-long context: diagnosed, then --fit-context
#   benchmarks/gpu/run_vllm.sh gemma           # issue 11: the post's Gemma 4 stacks as stand-ins on
#                                         # vLLM 0.22 (STAGE22 bundle in /tmp/site22, and
#                                         # transformers 5.14 in /tmp/tf: see benchmarks/standins)
#
# vLLM 0.22.0 alone (second session, a 2-GPU host):
#   benchmarks/gpu/run_vllm.sh setup22 STAGE22 MODELS  # one flat folder of wheels (the 0.22 bundle with
#                                         # mistral_common 1.11.5, transformers 5.14.1, cutlass-dsl
#                                         # 4.5.2 [cu13], quack-kernels 0.5.0, servelab's missing
#                                         # deps) + MODELS (stories260k/hf, standins/)
#   benchmarks/gpu/run_vllm.sh tp              # issue 10: 1B stand-in at tensor 2, then tensor 1
#   benchmarks/gpu/run_vllm.sh dflash          # issue 11: the DFlash stand-in (variants until one serves)
#   benchmarks/gpu/run_vllm.sh rest [NAME...]  # issue 11: Gemma 4 no-spec and Nemotron-H stand-ins
#   ROUNDS=R benchmarks/gpu/run_vllm.sh load [RATE] [N] # issue 16: servelab's load client vs `vllm bench
#                                         # serve` on the 1B stand-in (0.20.2 bundle, setup): rounds
#                                         # A B, B A, …, both sending vLLM's own Poisson schedule
#                                         # (benchmarks/gpu/load_ab.py), /metrics around each;
#                                         # KEEP_UP=1 leaves the engine up, ROUND_FROM=K goes on
#
# Everything lands in $WORK (default /tmp/work); each part ends by packing it into
# $OUT/gpu-results.tar.gz when OUT is set. Engines started by `servelab up` outlive a part
# (their own session), so the no-spec twin stays up from part a to part c.
set -uo pipefail
part=${1:?usage: run_vllm.sh setup STAGE [STAGE22] | a | b | c | gemma | setup22 STAGE22 MODELS | tp | dflash | rest | load}
repo=$(pwd)
WORK=${WORK:-/tmp/work}
mkdir -p "$WORK"
export PYTHONPATH=/tmp/site:$repo/src PATH=/tmp/site/bin:$PATH
export HF_HUB_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 NCCL_NVLS_ENABLE=0
export SERVELAB_MODELS=/tmp/models SERVELAB_HOME=$WORK/home SERVELAB_DB=$WORK/results.db
export PYTHONUNBUFFERED=1
R=$repo/benchmarks/gpu/recipes
sl() { echo "+ servelab $*" >&2; python3 -m servelab "$@"; }

snap() { # snap URL NAME: save the server's /metrics text
    python3 - "$1" "$WORK/metrics-$2.txt" <<'PY'
import sys, httpx
open(sys.argv[2], "w").write(httpx.get(sys.argv[1] + "/metrics", timeout=30).text)
PY
}

url_of() { # url_of NAME: the endpoint of an engine servelab started
    python3 -m servelab status --json | python3 -c \
        "import json,sys; d=json.load(sys.stdin); d=d.get('items', d) if isinstance(d, dict) else d; \
print(next(r['endpoint'] for r in d if r['name']=='$1'))"
}

serve_bench() { # serve_bench NAME URL MODEL: vllm's own client, same length, greedy
    local name=$1 url=$2 model=$3
    vllm bench serve --base-url "$url" --model "$model" --tokenizer "$model" \
        --dataset-name random --random-input-len 16 --random-output-len 2500 --num-prompts 3 \
        --max-concurrency 1 --ignore-eos --temperature 0 --save-result \
        --result-dir "$WORK" --result-filename "vllm-bench-serve-$name.json" \
        > "$WORK/vllm-bench-serve-$name.log" 2>&1 || echo "vllm bench serve failed for $name" >&2
    tail -30 "$WORK/vllm-bench-serve-$name.log"
}

measure() { # measure NAME: (lossless vs the no-spec twin,) bench, vllm bench serve
    local name=$1 twin=${2:-}
    local url model
    url=$(url_of "$name")
    model=$(python3 -c "import httpx; print(httpx.get('$url/v1/models').json()['data'][0]['id'])")
    if [ -n "$twin" ]; then
        sl check --endpoint "$url" --twin-endpoint "$(url_of "$twin")" --only lossless \
            --json "$WORK/check-$name.json" --no-store || true
    fi
    snap "$url" "$name-0"
    sl bench "$R/$name.yaml" --json "$WORK/bench-$name.json" || true
    snap "$url" "$name-1"
    serve_bench "$name" "$url" "$model"
    snap "$url" "$name-2"
}

pack() {
    cp -r "$SERVELAB_HOME/state/logs" "$WORK/engine-logs" 2>/dev/null || true
    [ -n "${OUT:-}" ] && tar -czf "$OUT/gpu-results-$part.tar.gz" -C "$WORK" . && ls -la "$OUT"
}
trap pack EXIT

smoke() { # smoke URL: one short chat request; fails when the engine cannot answer it
    python3 - "$1" <<'PY'
import sys, httpx
url = sys.argv[1]
model = httpx.get(url + "/v1/models", timeout=30).json()["data"][0]["id"]
body = {"model": model, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 32}
r = httpx.post(url + "/v1/chat/completions", json=body, timeout=600)
print(r.status_code, r.text[:400])
sys.exit(r.status_code != 200)
PY
}

standin() { # standin RECIPE CHECKS [smoke]: up → (one request) → check → bench --runs 3 → down
    local recipe=$1 checks=$2 name url
    name=$(basename "$recipe" .yaml)
    sl up "$recipe" --timeout 400 || {
        cp "$SERVELAB_HOME/state/logs/$name.log" "$WORK/failed-$name.log"; pack; return 1; }
    url=$(url_of "$name")
    if [ "${3:-}" = smoke ] && ! smoke "$url" > "$WORK/smoke-$name.txt" 2>&1; then
        cat "$WORK/smoke-$name.txt"
        cp "$SERVELAB_HOME/state/logs/$name.log" "$WORK/failed-$name.log"
        sl down "$name"; pack; return 1
    fi
    sl check --endpoint "$url" --only "$checks" --json "$WORK/check-$name.json" --no-store
    snap "$url" "$name-0"
    sl bench "$recipe" --runs 3 --json "$WORK/bench-$name.json" || true
    snap "$url" "$name-1"
    sl down "$name"
    pack
}

if [ "$part" = gemma ]; then
    export PYTHONPATH=/tmp/tf:/tmp/site22:$repo/src PATH=/tmp/site22/bin:$PATH
fi
case $part in setup22|tp|dflash|rest)
    # vLLM 0.22 alone; cutlass-dsl's .pth is not read from a --target folder, hence its path
    export PYTHONPATH=/tmp/site22:/tmp/site22/nvidia_cutlass_dsl/python_packages:$repo/src
    export PATH=/tmp/site22/bin:$PATH ;;
esac
G=$repo/src/servelab/recipes

load_ab() { # load_ab RATE N: A (servelab) and B (vllm bench serve) on one server, same trace
    local rate=$1 n=$2 name=vllm-standin-1b-nospec url model data=$WORK/load-prompts.jsonl
    url=$(url_of "$name" 2>/dev/null) || url=
    if [ -z "$url" ]; then  # a later call goes on with the engine an earlier call started
        sl up "$R/$name.yaml" --timeout 400 || { pack; return 1; }
        url=$(url_of "$name")
    fi
    model=$(python3 -c "import httpx; print(httpx.get('$url/v1/models').json()['data'][0]['id'])")
    python3 benchmarks/gpu/load_ab.py dataset "$data" "$n"
    for round in $(seq "${ROUND_FROM:-1}" "${ROUNDS:-2}"); do
        local trace=$WORK/trace-$round.jsonl
        python3 benchmarks/gpu/load_ab.py trace "$data" "$n" "$rate" "$round" "$trace"
        # A B in odd rounds, B A in even ones: a drift of the server over the series cancels
        if [ $((round % 2)) = 1 ]; then ab_servelab; ab_vllm; else ab_vllm; ab_servelab; fi
        pack
    done
    tail -40 "$WORK/load-servelab-${ROUND_FROM:-1}.log"
    python3 benchmarks/gpu/load_ab.py compare "$WORK" | tee "$WORK/load-ab.txt"
    [ -n "${KEEP_UP:-}" ] || sl down "$name"
}

ab_servelab() { # round $round of A: servelab replays the trace (one warm-up, like vLLM's test)
    snap "$url" "load-servelab-$round-before"
    sl bench --endpoint "$url" --model "$model" --fixed-schedule --dataset "$trace" \
        --output-len 256 --warmup 1 --json "$WORK/load-servelab-$round.json" \
        > "$WORK/load-servelab-$round.log" 2>&1
    snap "$url" "load-servelab-$round-after"
}

ab_vllm() { # round $round of B: vllm bench serve, the same prompts in order, the same seed
    snap "$url" "load-vllm-$round-before"
    vllm bench serve --base-url "$url" --model "$model" --tokenizer "$model" \
        --backend openai-chat --endpoint /v1/chat/completions \
        --dataset-name custom --dataset-path "$data" --disable-shuffle --custom-output-len 256 \
        --skip-chat-template --num-prompts "$n" --request-rate "$rate" --seed "$round" \
        --ignore-eos --temperature 0 --save-result --save-detailed --result-dir "$WORK" \
        --result-filename "load-vllm-$round.json" > "$WORK/load-vllm-$round.log" 2>&1 \
        || echo "vllm bench serve failed (round $round)" >&2
    snap "$url" "load-vllm-$round-after"
}

case $part in
setup)
    stage=${2:?setup needs STAGE [STAGE22]}
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$WORK/gpu.txt"
    bash "$stage/install.sh" "$stage" | tail -2
    python3 -m pip install -q --no-index --find-links "$stage/slw" \
        $(python3 -c "import tomllib; print(' '.join(repr(d) for d in tomllib.load(open('pyproject.toml','rb'))['project']['dependencies']))" | tr -d "'") \
        2>&1 | tail -3
    # The host's own packages can sit outside the pins (rich 15, say), which fails that resolve:
    # then install the staged wheels alone (setuptools excepted: the host's stays).
    python3 -c "import platformdirs, sqlalchemy, hdrh" 2>/dev/null || python3 -m pip install -q \
        --no-index --no-deps $(ls "$stage"/slw/*.whl | grep -v setuptools)
    python3 benchmarks/gpu/make_gpu_standins.py "$stage/models/stories260k/hf" /tmp/models
    if [ -n "${3:-}" ]; then  # vLLM 0.22 beside 0.20.2, and the Gemma 4 stand-ins
        stage22=$3
        for first in "$stage22"/vllm-*.whl.part-aa; do
            [ -e "$first" ] || break
            w=${first%.part-aa}; cat "$w".part-* > "$w" && rm -f "$w".part-*
        done
        python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site22 \
            "$stage22"/*.whl
        python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/tf \
            "$stage"/tf/*.whl
        cp -r "$stage"/standins /tmp/models/
        PYTHONPATH=/tmp/tf:/tmp/site22 python3 -c "import vllm, transformers; \
print('vllm', vllm.__version__, 'transformers', transformers.__version__)" | tee -a "$WORK/vllm-version.txt"
    fi
    python3 -c "import vllm; print('vllm', vllm.__version__)" | tee "$WORK/vllm-version.txt"
    sl doctor
    ;;
a)
    sl up "$R/vllm-stories260k.yaml" --timeout 400 && {
        sl bench "$R/vllm-stories260k.yaml" --json "$WORK/bench-vllm-stories260k.json"
        sl down vllm-stories260k; }
    sl up "$R/vllm-standin-1b-nospec.yaml" --timeout 400 && measure vllm-standin-1b-nospec
    sl up "$R/vllm-standin-1b-selfdraft.yaml" --timeout 400 \
        && measure vllm-standin-1b-selfdraft vllm-standin-1b-nospec
    sl down vllm-standin-1b-selfdraft
    sl board --markdown
    ;;
b)
    sl up "$R/vllm-standin-1b-randdraft.yaml" --timeout 400 \
        && measure vllm-standin-1b-randdraft vllm-standin-1b-nospec
    sl down vllm-standin-1b-randdraft
    sl up "$R/vllm-standin-1b-ngram.yaml" --timeout 400 \
        && measure vllm-standin-1b-ngram vllm-standin-1b-nospec
    sl down vllm-standin-1b-ngram
    sl board --markdown
    ;;
c)
    sl down || true
    sl up "$R/vllm-standin-1b-toolong.yaml" --timeout 400; echo "up exit code: $?"
    cp "$SERVELAB_HOME/state/logs/vllm-standin-1b-toolong.log" "$WORK/toolong-failed.log"
    sl diagnose "$WORK/toolong-failed.log" --json "$WORK/diagnose-toolong.json"
    sl up "$R/vllm-standin-1b-toolong.yaml" --timeout 400 --fit-context --json "$WORK/up-fit.json"
    echo "up --fit-context exit code: $?"
    sl bench "$R/vllm-standin-1b-toolong.yaml" --runs 3 --tokens 1000 \
        --json "$WORK/bench-toolong-fit.json" || true
    sl down
    sl board --markdown | tee "$WORK/board.md"
    ;;
gemma)
    standin "$G/standin-gemma4-26b-a4b-vision-mtp.yaml" vision,tools
    standin "$G/standin-gemma4-26b-a4b-dflash.yaml" tools
    sl board --markdown | tee "$WORK/board-gemma.md"
    ;;
setup22)
    stage22=${2:?setup22 needs STAGE22 MODELS}; models=${3:?setup22 needs STAGE22 MODELS}
    nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv | tee "$WORK/gpu.txt"
    nvidia-smi topo -m > "$WORK/topo.txt" 2>&1 || true
    for first in "$stage22"/*.whl.part-aa; do
        [ -e "$first" ] || break
        w=${first%.part-aa}; cat "$w".part-* > "$w" && rm -f "$w".part-*
    done
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site22 \
        "$stage22"/*.whl 2>&1 | tail -3
    python3 benchmarks/gpu/make_gpu_standins.py "$models/stories260k/hf" /tmp/models
    cp -r "$models"/standins/* /tmp/models/standins/
    python3 -c "import vllm, transformers, mistral_common; print('vllm', vllm.__version__, \
'transformers', transformers.__version__, 'mistral_common', mistral_common.__version__)" \
        | tee "$WORK/vllm-version.txt"
    python3 -c "import cutlass; print('cutlass-dsl', cutlass.__version__)" \
        | tee -a "$WORK/vllm-version.txt" || echo "no cutlass-dsl (FlashAttention 4 unavailable)"
    sl doctor
    ;;
tp)
    sl plan "$R/vllm-standin-1b-tp2.yaml" | tee "$WORK/plan-tp2.txt"
    for name in vllm-standin-1b-tp2 vllm-standin-1b-tp1; do
        sl up "$R/$name.yaml" --timeout 400 || { cp "$SERVELAB_HOME/state/logs/$name.log" \
            "$WORK/failed-$name.log"; continue; }
        url=$(url_of "$name")
        nvidia-smi --query-gpu=index,memory.used --format=csv | tee "$WORK/gpumem-$name.txt"
        snap "$url" "$name-0"
        sl bench "$R/$name.yaml" --json "$WORK/bench-$name.json" || true
        snap "$url" "$name-1"
        sl down "$name"
        pack
    done
    sl board --markdown | tee "$WORK/board-tp.md"
    ;;
dflash)
    # The product recipe first; then bf16 KV; then bf16 KV with FlexAttention for the drafter.
    for r in "$G/standin-gemma4-26b-a4b-dflash.yaml" "$R/standin-gemma4-dflash-bf16kv.yaml" \
        "$R/standin-gemma4-dflash-flex.yaml"; do
        standin "$r" tools smoke && break
    done
    sl board --markdown | tee "$WORK/board-dflash.md"
    ;;
load)
    load_ab "${2:-20}" "${3:-400}"
    ;;
rest)
    shift
    names=${*:-standin-gemma4-26b-a4b-nospec standin-nemotron-elastic-30b-a3b-nvfp4}
    for name in $names; do
        checks=tools; [ "$name" = standin-gemma4-26b-a4b-nospec ] && checks=vision,tools
        standin "$G/$name.yaml" "$checks"
    done
    sl board --markdown | tee "$WORK/board-rest.md"
    ;;
esac
