"""GuideLLM's benchmarks report (`--output json`, benchmarks.json): one bench per benchmark.

GuideLLM's inter_token_latency_ms per request is (last token − first token) / (output tokens
− 1): the first token excluded, as in servelab's decode t/s, so 1000 / ITL of a request is that
request's decode t/s. The report keeps sampled requests (`requests.successful`), whose mean
1000 / ITL is servelab's figure; without them 1000 / mean ITL (a harmonic mean) stands in.
Only a synchronous benchmark (one request at a time) is single-stream like servelab's board.
"""

from __future__ import annotations

import time
from typing import Any

from servelab.bench.stats import summarize
from servelab.imports.common import Figure, SourceFile, imported_bench, number
from servelab.records import BenchResult, ConcurrencyLevel, RunRecord, Summary

TOOL = "guidellm"
FORMULA = "ITL = (last token − first token) / (output tokens − 1) per request"


def matches(data: Any) -> bool:
    """A report: metadata and a list of benchmarks with GuideLLM's metrics."""
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        return False
    first = data["benchmarks"][0] if data["benchmarks"] else {}
    return isinstance(first, dict) and "inter_token_latency_ms" in (first.get("metrics") or {})


def _successful(metrics: dict[str, Any], name: str) -> dict[str, Any]:
    return ((metrics.get(name) or {}).get("successful")) or {}


def _strategy(benchmark: dict[str, Any]) -> tuple[str, int | None]:
    """The scheduling strategy's type and its streams (1 for synchronous)."""
    strategy = (benchmark.get("config") or {}).get("strategy") or {}
    kind = str(strategy.get("type_") or "unknown")
    streams = strategy.get("streams")
    if kind == "synchronous":
        streams = 1
    return kind, streams if isinstance(streams, int) else None


def _runs(benchmark: dict[str, Any]) -> list[RunRecord]:
    """Sampled successful requests: decode t/s = 1000 / inter_token_latency_ms."""
    requests = ((benchmark.get("requests") or {}).get("successful")) or []
    runs = []
    for index, request in enumerate(requests, start=1):
        itl = number(request.get("inter_token_latency_ms"))
        ttft = number(request.get("time_to_first_token_ms"))
        runs.append(
            RunRecord(
                index=index,
                ok=bool(itl),
                decode_tps=1000.0 / itl if itl else None,
                output_tokens=request.get("output_tokens"),
                prompt_tokens=request.get("prompt_tokens"),
                ttft_s=ttft / 1000 if ttft is not None else None,
                error=None if itl else "no inter-token latency (one token or fewer)",
            )
        )
    return runs


def _level(metrics: dict[str, Any], streams: int | None, count: int) -> ConcurrencyLevel:
    ttft = _successful(metrics, "time_to_first_token_ms").get("percentiles") or {}
    concurrency = _successful(metrics, "request_concurrency").get("mean")
    itl = number(_successful(metrics, "inter_token_latency_ms").get("mean"))
    p50, p99 = number(ttft.get("p50")), number(ttft.get("p99"))
    return ConcurrencyLevel(
        concurrency=streams or max(1, round(number(concurrency) or 1)),
        requests=count,
        ok=count,
        aggregate_tps=number(_successful(metrics, "output_tokens_per_second").get("mean")),
        per_user_decode_tps=1000.0 / itl if itl else None,
        ttft_p50_s=p50 / 1000 if p50 is not None else None,
        ttft_p99_s=p99 / 1000 if p99 is not None else None,
    )


def _bench(source: SourceFile, benchmark: dict[str, Any], version: str | None) -> BenchResult:
    metrics = benchmark.get("metrics") or {}
    itl = _successful(metrics, "inter_token_latency_ms")
    mean_itl = number(itl.get("mean"))
    kind, streams = _strategy(benchmark)
    runs = _runs(benchmark)
    values = [run.decode_tps for run in runs if run.ok and run.decode_tps]
    if values:
        summary, figure = summarize(values), "mean of 1000 / inter_token_latency_ms per request"
    elif mean_itl:
        summary = Summary(n=int(itl.get("count") or 0), mean=1000.0 / mean_itl)
        figure = "1000 / mean inter_token_latency_ms"
    else:
        raise source.fail(f"guidellm benchmark {kind}: no inter-token latency to import")
    single = streams == 1
    note = "ITL excludes the first token, like servelab's decode t/s"
    note += "" if single else f"; {kind} strategy, not one request at a time"
    origin = Figure(TOOL, figure, FORMULA, single, note).origin(source, version)
    backend = (benchmark.get("config") or {}).get("backend") or {}
    model = str(backend.get("model") or "") if isinstance(backend, dict) else ""
    started = number((benchmark.get("scheduler_state") or {}).get("start_time"))
    return imported_bench(
        source,
        origin,
        stack=model.rsplit("/", 1)[-1] or "guidellm",
        version=f"guidellm {kind}" + (f" c{streams}" if streams and not single else ""),
        started_at=started or time.time(),
        summary=summary,
        runs=runs,
        model=model,
        tokens=round(number(_successful(metrics, "output_token_count").get("mean")) or 0),
        concurrency=[_level(metrics, streams, len(runs) or int(itl.get("count") or 0))],
    )


def read(source: SourceFile) -> list[BenchResult]:
    """One bench per benchmark in the report."""
    meta = source.data.get("metadata") or {}
    version = meta.get("guidellm_version") if isinstance(meta, dict) else None
    return [_bench(source, item, version) for item in source.data["benchmarks"]]
