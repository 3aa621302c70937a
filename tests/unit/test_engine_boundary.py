"""Owners: one module sets the bearer header and reads the model list; engine facts stay in
engines/ (their flags, metric names and response fields are named nowhere else)."""

from __future__ import annotations

import re
from pathlib import Path

import servelab

SRC = Path(servelab.__file__).resolve().parent
ENGINES = SRC / "engines"
# Engine vocabulary: response and model-list fields, metric prefixes, engine endpoints, flags.
LEAKS = [
    r"\bn_ctx",
    r"predicted_\w",
    r"\bdraft_n\b|draft_n_accepted|\bn_predict\b",
    r"\b(?:vllm|llamacpp|sglang):",
    r"build_info|/props\b|/get_server_info|[\"']/version[\"']",
    r"(?:\.get\(|\[)\s*[\"']timings[\"']|\|timings\b|\btimings\|",  # the field read or matched
    r"--spec-type|--spec-draft|--model-draft|--mmproj|--jinja|--n-gpu-layers|-ngl\b|-ct[kv]\b",
    r"--kv-cache-dtype|--gpu-memory-utilization|--max-num-(?:seqs|batched-tokens)",
    r"--tensor-parallel-size|--speculative-config|--served-model-name|--enforce-eager",
    r"--enable-prefix-caching|--context-length|--tp-size|--model-path",
]
# Read as a field of the model list (in a module that reads the model list).
MODEL_LIST_FIELDS = r"[\"'](?:max_model_len|context_length)[\"']"
# servelab's own `plan --max-model-len` option is declared in cli/; elsewhere it is vLLM's flag.
OWN_OPTION = (r"--max-model-len", "cli/")


def _modules_outside_engines() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if ENGINES not in p.parents]


def _leaks(text: str, rel: str) -> list[str]:
    """Lines of a module (``rel``: its path under src/servelab) naming engine vocabulary."""
    found = []
    patterns = list(LEAKS)
    if "v1/models" in text or "MODELS_PATH" in text or "model_entries" in text:
        patterns.append(MODEL_LIST_FIELDS)
    if not rel.startswith(OWN_OPTION[1]):
        patterns.append(OWN_OPTION[0])
    for number, line in enumerate(text.splitlines(), 1):
        for pattern in patterns:
            if re.search(pattern, line):
                found.append(f"{rel}:{number}: {line.strip()}")
    return found


def _places(word: str) -> list[str]:
    """``path:line`` of every line under src/servelab naming ``word`` (as grep -rn finds it)."""
    return [
        f"{path.relative_to(SRC).as_posix()}:{number}"
        for path in sorted(SRC.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if word in line
    ]


def test_one_module_sets_the_authorization_header():
    places = _places("Authorization")
    assert len(places) == 1 and places[0].startswith("endpoint.py:"), places


def test_one_module_outside_engines_reads_the_model_list():
    places = [p for p in _places("v1/models") if not p.startswith("engines/")]
    assert len(places) == 1 and places[0].startswith("endpoint.py:"), places


def test_no_engine_vocabulary_outside_engines():
    leaks = [
        leak
        for path in _modules_outside_engines()
        for leak in _leaks(path.read_text(), path.relative_to(SRC).as_posix())
    ]
    assert leaks == [], "engine specifics outside engines/:\n" + "\n".join(leaks)


def test_the_scan_catches_each_kind_of_leak():
    samples = [
        'meta.get("n_ctx")',
        'final.get("timings") or {}',
        "_PARSE = re.compile(rb'\"(?:usage|timings)\"')",
        'name = "vllm:spec_decode_num_drafts"',
        'prefix = "llamacpp:"',
        'args += ["--spec-type", kind]',
        'entry.get("max_model_len")  # from GET /v1/models',
        'argv += ["--max-model-len", "4096"]',
        'timings["predicted_n"]',
        'payload.get("n_predict")',
        'httpx.get(base_url + "/props")',
    ]
    for line in samples:
        assert _leaks(line, "bench/probe.py"), f"{line!r} was not caught"
    neutral = 'recipe.context.max_model_len; spec.source = "metrics"; run.engine_timings'
    assert _leaks(neutral, "bench/probe.py") == []
    assert _leaks('typer.Option(None, "--max-model-len")', "cli/plan.py") == []
