"""The older ``concurrency`` section of a bench, derived from its closed-loop load levels."""

from __future__ import annotations

from servelab.load.records import LoadResult
from servelab.records import ConcurrencyLevel


def concurrency_levels(load: LoadResult) -> list[ConcurrencyLevel]:
    """One entry per closed-loop level: aggregate = output t/s, per-user decode = 1 / TPOT p50."""
    levels = []
    for level in load.levels:
        if level.mode != "concurrency" or level.max_concurrency is None:
            continue
        levels.append(
            ConcurrencyLevel(
                concurrency=level.max_concurrency,
                requests=level.requests,
                ok=level.ok,
                aggregate_tps=level.output_tps,
                per_user_decode_tps=1000.0 / level.tpot_ms.p50 if level.tpot_ms else None,
                ttft_p50_s=level.ttft_ms.p50 / 1000.0 if level.ttft_ms else None,
                ttft_p99_s=level.ttft_ms.p99 / 1000.0 if level.ttft_ms else None,
            )
        )
    return levels
