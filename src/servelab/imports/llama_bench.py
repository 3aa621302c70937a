"""llama-bench `-o json` / `-o jsonl`: each token-generation test (tgN, optionally @ depth).

llama-bench times the model in-process, without a server: a tg test runs n_gen single-token
decode steps and reports avg_ts = mean over repetitions of n_gen / test seconds (samples_ts per
repetition). No HTTP, no prompt, no streaming to a client: the same kind of figure as servelab's
decode t/s but not its definition, so it is shown beside it and never ranked with it.
Prompt-processing tests (ppN) measure prefill, which the board does not hold; they are skipped.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from servelab.imports.common import Figure, SourceFile, imported_bench, number, sample_runs
from servelab.records import BenchResult, Summary

TOOL = "llama-bench"
KEYS = {"n_gen", "n_prompt", "avg_ts", "model_filename"}
FIGURE = Figure(
    tool=TOOL,
    figure="avg_ts of a tg test",
    formula="n_gen / seconds per repetition, mean over repetitions (stddev_ts its σ)",
    comparable=False,
    note="server-free: n_gen in-process decode steps, no HTTP or prompt; not servelab's decode t/s",
)


def matches(data: Any) -> bool:
    """A non-empty list of llama-bench result objects."""
    return (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(item, dict) and item.keys() >= KEYS for item in data)
    )


def _test_name(entry: dict[str, Any]) -> str:
    name = f"tg{entry['n_gen']}"
    depth = entry.get("n_depth") or 0
    return f"{name}@d{depth}" if depth else name


def _started(entry: dict[str, Any]) -> float:
    try:
        stamp = str(entry.get("test_time")).replace("Z", "+00:00")
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return time.time()


def _bench(source: SourceFile, entry: dict[str, Any]) -> BenchResult:
    samples = [value for value in map(number, entry.get("samples_ts") or []) if value]
    mean = number(entry.get("avg_ts"))
    if mean is None or mean <= 0:
        raise source.fail(f"llama-bench {_test_name(entry)}: avg_ts is not a positive number")
    summary = Summary(n=len(samples), mean=mean, stdev=number(entry.get("stddev_ts")))
    if samples:
        summary.min, summary.max = min(samples), max(samples)
        summary.range = summary.max - summary.min
    build = entry.get("build_commit")
    version = f"b{entry['build_number']}" if entry.get("build_number") else None
    if build and build != "unknown":
        version = f"{version or ''} ({build})".strip()
    threads = entry.get("n_threads")
    stack = PurePosixPath(str(entry["model_filename"])).stem or "llama-bench"
    backend = entry.get("backends") or "?"
    return imported_bench(
        source,
        FIGURE.origin(source, version),
        stack=stack,
        version=f"llama-bench {_test_name(entry)} {backend} t{threads}",
        started_at=_started(entry),
        summary=summary,
        runs=sample_runs(samples, tokens=entry.get("n_gen")),
        model=str(entry.get("model_type") or stack),
        tokens=int(entry.get("n_gen") or 0),
        engine=f"llama.cpp {version}" if version else "llama.cpp",
        gpu=[{"name": entry["gpu_info"]}] if entry.get("gpu_info") else [],
    )


def read(source: SourceFile) -> list[BenchResult]:
    """One bench per tg test; pp-only tests are skipped (prefill, not decode)."""
    benches = [
        _bench(source, entry)
        for entry in source.data
        if (entry.get("n_gen") or 0) > 0 and not (entry.get("n_prompt") or 0)
    ]
    if not benches:
        raise source.fail("llama-bench file has no token-generation (tg) test to import")
    return benches
