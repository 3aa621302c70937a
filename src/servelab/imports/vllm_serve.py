"""`vllm bench serve --save-result` JSON: its TPOT as decode t/s, its load figures as a level.

vLLM's TPOT per request is (e2e latency − TTFT) / (output tokens − 1): the first token is
excluded, as in servelab's decode t/s. The file's `mean_tpot_ms` averages TPOT over requests,
so 1000 / mean_tpot_ms is the harmonic mean of per-request decode t/s; with `--save-detailed`
the per-request `itls` give each request's decode t/s exactly: (n − 1) / Σ ITL.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from servelab.bench.stats import summarize
from servelab.imports.common import Figure, SourceFile, imported_bench, number
from servelab.records import BenchResult, ConcurrencyLevel, RunRecord, Summary

TOOL = "vllm bench serve"
KEYS = {"mean_tpot_ms", "output_throughput", "completed"}


def matches(data: Any) -> bool:
    """A dict with vLLM's result keys."""
    return isinstance(data, dict) and data.keys() >= KEYS


def _figure(concurrency: int | None, detailed: bool) -> Figure:
    per_request = "(output_len − 1) / Σ itls per request" if detailed else "1000 / mean_tpot_ms"
    single = concurrency == 1
    note = "TPOT excludes the first token, like servelab's decode t/s"
    if not detailed:
        note += "; the mean of TPOT inverted is the harmonic mean of per-request t/s"
    if not single:
        note += f"; measured at max concurrency {concurrency or 'unbounded'}, not single-stream"
    return Figure(
        tool=TOOL,
        figure=per_request,
        formula="TPOT = (e2el − ttft) / (output_len − 1) per request",
        comparable=single,
        note=note,
    )


def _runs(data: dict[str, Any]) -> list[RunRecord]:
    """Per-request decode t/s from `--save-detailed` (output_lens, itls, ttfts)."""
    lens, itls, ttfts = data.get("output_lens"), data.get("itls"), data.get("ttfts") or []
    if not isinstance(lens, list) or not isinstance(itls, list) or len(lens) != len(itls):
        return []
    runs = []
    for index, (count, gaps) in enumerate(zip(lens, itls, strict=True), start=1):
        span = sum(gaps) if isinstance(gaps, list) else 0.0
        ok = isinstance(count, int) and count > 1 and span > 0
        ttft = number(ttfts[index - 1]) if index <= len(ttfts) else None
        runs.append(
            RunRecord(
                index=index,
                ok=ok,
                output_tokens=count if isinstance(count, int) else None,
                ttft_s=ttft,
                decode_tps=(count - 1) / span if ok else None,
                error=None if ok else "no inter-token latencies",
            )
        )
    return runs


def _started(data: dict[str, Any]) -> float:
    try:
        return datetime.strptime(str(data.get("date")), "%Y%m%d-%H%M%S").timestamp()
    except ValueError:
        return time.time()


def read(source: SourceFile) -> list[BenchResult]:
    """One bench: per-request runs when detailed, else the file's mean TPOT."""
    data = source.data
    tpot = number(data.get("mean_tpot_ms"))
    if not tpot or tpot <= 0:
        raise source.fail("vllm bench serve result without a positive mean_tpot_ms")
    concurrency = data.get("max_concurrency")
    concurrency = concurrency if isinstance(concurrency, int) else None
    runs = _runs(data)
    values = [run.decode_tps for run in runs if run.ok and run.decode_tps]
    # Without the samples only the mean carries over (σ of TPOT is not σ of its inverse).
    completed = int(data.get("completed") or 0)
    summary = summarize(values) if values else Summary(n=completed, mean=1000.0 / tpot)
    model = str(data.get("model_id") or "")
    stack = str(data.get("label") or PurePosixPath(model).name or "vllm-bench-serve")
    level = _level(data, concurrency)
    total = data.get("total_output_tokens")
    return [
        imported_bench(
            source,
            _figure(concurrency, bool(values)).origin(source, data.get("vllm_version")),
            stack=stack,
            version=f"vllm-bench-serve c{concurrency or 'inf'}",
            started_at=_started(data),
            summary=summary,
            runs=runs,
            model=model,
            tokens=round(total / completed) if isinstance(total, int) and completed else 0,
            engine="vllm",
            concurrency=[level],
        )
    ]


def _level(data: dict[str, Any], concurrency: int | None) -> ConcurrencyLevel:
    """The run's load figures: output throughput, per-user t/s, TTFT percentiles."""
    ttft_p50 = number(data.get("median_ttft_ms"))
    ttft_p99 = number(data.get("p99_ttft_ms"))
    tpot = number(data.get("mean_tpot_ms"))
    return ConcurrencyLevel(
        concurrency=concurrency or int(data.get("num_prompts") or 0),
        requests=int(data.get("num_prompts") or 0),
        ok=int(data.get("completed") or 0),
        aggregate_tps=number(data.get("output_throughput")),
        per_user_decode_tps=1000.0 / tpot if tpot else None,
        ttft_p50_s=ttft_p50 / 1000 if ttft_p50 is not None else None,
        ttft_p99_s=ttft_p99 / 1000 if ttft_p99 is not None else None,
    )
