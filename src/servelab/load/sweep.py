"""``--sweep``: synchronous (one stream), throughput (saturation), then K Poisson rates spaced
evenly between the two request rates (the ends excluded)."""

from __future__ import annotations

from collections.abc import Callable

from servelab.load.plan import DEFAULT_THROUGHPUT_CONCURRENCY, LevelSpec
from servelab.load.records import LoadLevel

DEFAULT_RATES = 4


def rates_between(low: float, high: float, count: int) -> list[float]:
    """``count`` rates evenly spaced strictly between ``low`` and ``high``."""
    if count <= 0 or high <= low:
        return []
    step = (high - low) / (count + 1)
    return [low + step * (i + 1) for i in range(count)]


def run_sweep(
    measure: Callable[[LevelSpec], LoadLevel],
    rates: int = DEFAULT_RATES,
    concurrency: int = DEFAULT_THROUGHPUT_CONCURRENCY,
    num_prompts: int | None = None,
) -> list[LoadLevel]:
    """Measure the sweep's levels in order; ``measure`` runs (and keeps) one level."""
    synchronous = measure(
        LevelSpec("concurrency", max_concurrency=1, num_prompts=num_prompts, label="synchronous")
    )
    throughput = measure(
        LevelSpec(
            "concurrency", max_concurrency=concurrency, num_prompts=num_prompts, label="throughput"
        )
    )
    levels = [synchronous, throughput]
    low, high = synchronous.request_tps or 0.0, throughput.request_tps or 0.0
    for index, rate in enumerate(rates_between(low, high, rates)):
        spec = LevelSpec(
            "poisson", request_rate=rate, num_prompts=num_prompts, label="rate", seed=index
        )
        levels.append(measure(spec))
    return levels
