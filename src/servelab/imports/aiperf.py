"""AIPerf's `profile_export_aiperf.json` (and `profile_export_aiperf.csv`): one bench per file.

AIPerf's output_token_throughput_per_user per request is 1 / ITL, with ITL = (request latency −
TTFT) / (output tokens − tokens of the first chunk): the first token excluded, as in servelab's
decode t/s, and its `avg` is the arithmetic mean over requests, as servelab's. Output tokens
come from AIPerf's tokenizer unless it ran with --use-server-token-count (servelab uses the
server's usage). At concurrency 1 it ranks beside servelab's figure.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from servelab.imports.common import Figure, SourceFile, imported_bench, number
from servelab.records import BenchResult, ConcurrencyLevel, Summary

TOOL = "aiperf"
PER_USER = "output_token_throughput_per_user"
FORMULA = "1 / ITL per request, ITL = (request latency − TTFT) / (output tokens − first chunk's)"
# CSV rows name metrics by their display header; these map onto the JSON tags.
CSV_HEADERS = {
    "Output Token Throughput Per User": PER_USER,
    "Output Token Throughput": "output_token_throughput",
    "Time to First Token": "time_to_first_token",
    "Inter Token Latency": "inter_token_latency",
    "Request Count": "request_count",
    "Output Sequence Length": "output_sequence_length",
}


def matches(data: Any) -> bool:
    """The JSON export (a per-user throughput block), or its CSV (a per-user throughput row)."""
    if isinstance(data, dict):
        return isinstance(data.get(PER_USER), dict) and "avg" in data[PER_USER]
    if isinstance(data, list) and data and all(isinstance(row, list) for row in data):
        return any(
            row and str(row[0]).startswith("Output Token Throughput Per User") for row in data
        )
    return False


def _from_csv(rows: list[list[str]]) -> dict[str, Any]:
    """Metric rows (`Metric,avg,min,…,std`, then `Metric,Value`) as the JSON export's blocks."""
    header: list[str] = []
    blocks: dict[str, Any] = {}
    for row in rows:
        if row and row[0] == "Metric":
            header = ["avg"] if row[1:] == ["Value"] else [cell.strip() for cell in row[1:]]
            continue
        name = row[0].split(" (", 1)[0].strip() if row else ""
        if header and name in CSV_HEADERS:
            blocks[CSV_HEADERS[name]] = dict(zip(header, row[1:], strict=False))
    return blocks


def _concurrency(data: dict[str, Any]) -> int | None:
    """The profiling phase's concurrency (input_config.phases)."""
    config = data.get("input_config") or {}
    for phase in config.get("phases") or [] if isinstance(config, dict) else []:
        if isinstance(phase, dict) and phase.get("kind") == "profiling":
            value = phase.get("concurrency")
            return value if isinstance(value, int) else None
    return None


def _model(data: dict[str, Any]) -> str:
    """The first benchmarked model's name (input_config.models.items)."""
    config = data.get("input_config") or {}
    models = config.get("models") or {} if isinstance(config, dict) else {}
    items = models.get("items") if isinstance(models, dict) else None
    first = items[0] if isinstance(items, list) and items else {}
    return str(first.get("name") or "") if isinstance(first, dict) else ""


def _started(data: dict[str, Any]) -> float:
    try:
        return datetime.fromisoformat(str(data.get("start_time"))).timestamp()
    except ValueError:
        return time.time()


def read(source: SourceFile) -> list[BenchResult]:
    """The per-user throughput as decode t/s; throughput and TTFT as a load level."""
    data = source.data if isinstance(source.data, dict) else _from_csv(source.data)
    block = data.get(PER_USER) or {}
    mean = number(block.get("avg"))
    if not mean or mean <= 0:
        raise source.fail(f"aiperf export without a positive {PER_USER} avg")
    count = int(
        number(block.get("count")) or number((data.get("request_count") or {}).get("avg")) or 0
    )
    concurrency = _concurrency(data)
    single = concurrency == 1
    note = "first token excluded and averaged over requests, like servelab's decode t/s; "
    note += "tokens counted by AIPerf's tokenizer unless --use-server-token-count"
    if not single:
        note += f"; concurrency {concurrency or 'unknown'}, not one stream at a time"
    origin = Figure(TOOL, f"{PER_USER} avg", FORMULA, single, note).origin(
        source, data.get("aiperf_version")
    )
    ttft = data.get("time_to_first_token") or {}
    p50, p99 = number(ttft.get("p50")), number(ttft.get("p99"))
    level = ConcurrencyLevel(
        concurrency=concurrency or 0,
        requests=count,
        ok=count,
        aggregate_tps=number((data.get("output_token_throughput") or {}).get("avg")),
        per_user_decode_tps=mean,
        ttft_p50_s=p50 / 1000 if p50 is not None else None,
        ttft_p99_s=p99 / 1000 if p99 is not None else None,
    )
    model = _model(data)
    summary = Summary(n=count, mean=mean, stdev=number(block.get("std")))
    summary.median, summary.min, summary.max = (number(block.get(k)) for k in ("p50", "min", "max"))
    osl = number((data.get("output_sequence_length") or {}).get("avg"))
    return [
        imported_bench(
            source,
            origin,
            stack=model.rsplit("/", 1)[-1] or "aiperf",
            version=f"aiperf c{concurrency or '?'}",
            started_at=_started(data),
            summary=summary,
            model=model,
            tokens=round(osl or 0),
            concurrency=[level],
        )
    ]
