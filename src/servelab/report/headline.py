"""The numbers a bench is summarised by: its measured values and its headline mean ± σ (n)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from servelab.records import BenchResult


@dataclass(frozen=True)
class Headline:
    """Decode t/s of a bench: mean ± sample σ over n runs (n 0 when a publication gave none)."""

    mean: float | None
    stdev: float | None
    n: int


def measured_values(bench: BenchResult) -> list[float]:
    """Decode t/s of the single-stream runs that count: ok, valid, not cold, with a value."""
    return [run.decode_tps for run in bench.runs if run.counted()]


def headline(bench: BenchResult) -> Headline:
    """The stored summary, else the statistics of the stored runs."""
    if bench.summary is not None and bench.summary.mean is not None:
        return Headline(bench.summary.mean, bench.summary.stdev, bench.summary.n)
    values = measured_values(bench)
    if not values:
        return Headline(None, None, 0)
    stdev = statistics.stdev(values) if len(values) > 1 else None
    return Headline(statistics.fmean(values), stdev, len(values))


def ranking_tps(bench: BenchResult) -> float | None:
    """What a bench is ranked by: its mean, or its slowest cluster's mean when bimodal."""
    regimes = bench.regimes
    if regimes is not None and regimes.bimodal and regimes.clusters:
        return min(cluster.mean for cluster in regimes.clusters)
    return headline(bench).mean
