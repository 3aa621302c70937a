"""Regimes: does a run set split into a fast and a slow cluster (the post's "5 fast, 4 slow")?

Criterion (all must hold):
1. the largest gap between neighbouring sorted values splits the set into a slow and a fast part,
   each with at least ``MIN_CLUSTER`` runs (one outlier is not a regime);
2. that gap is at least ``GAP_SIGMAS`` × the pooled within-cluster sample σ;
3. the slow mean is at least ``MIN_RELATIVE_DROP`` below the fast mean (relative to the fast mean).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from servelab.records import Cluster, Regimes

MIN_CLUSTER = 2
GAP_SIGMAS = 3.0
MIN_RELATIVE_DROP = 0.20


def _pooled_stdev(low: list[float], high: list[float]) -> float:
    squares = 0.0
    for part in (low, high):
        mean = math.fsum(part) / len(part)
        squares += math.fsum((value - mean) ** 2 for value in part)
    return math.sqrt(squares / (len(low) + len(high) - 2))


def detect_regimes(values: Sequence[float], indices: Sequence[int] | None = None) -> Regimes:
    """Fast/slow clusters of run values in run order; ``indices`` are the runs' numbers (1-based
    positions by default). Not bimodal → ``Regimes(bimodal=False)``."""
    runs = list(indices) if indices is not None else list(range(1, len(values) + 1))
    if len(runs) != len(values):
        raise ValueError("indices and values differ in length")
    if len(values) < 2 * MIN_CLUSTER:
        return Regimes()
    ordered = sorted(values)
    gaps = [ordered[i + 1] - ordered[i] for i in range(len(ordered) - 1)]
    cut = max(range(len(gaps)), key=gaps.__getitem__)
    threshold = ordered[cut]  # values ≤ threshold are slow
    slow = [value for value in values if value <= threshold]
    fast = [value for value in values if value > threshold]
    if len(slow) < MIN_CLUSTER or len(fast) < MIN_CLUSTER:
        return Regimes()
    fast_mean = math.fsum(fast) / len(fast)
    slow_mean = math.fsum(slow) / len(slow)
    separated = gaps[cut] >= GAP_SIGMAS * _pooled_stdev(slow, fast)
    far_apart = fast_mean > 0 and (fast_mean - slow_mean) / fast_mean >= MIN_RELATIVE_DROP
    if not (separated and far_apart):
        return Regimes()
    pattern = "".join("S" if value <= threshold else "F" for value in values)
    paired = list(zip(runs, values, strict=True))
    overall = math.fsum(values) / len(values)
    return Regimes(
        bimodal=True,
        clusters=[
            Cluster(mean=fast_mean, runs=[r for r, v in paired if v > threshold]),
            Cluster(mean=slow_mean, runs=[r for r, v in paired if v <= threshold]),
        ],
        pattern=pattern,
        note=(
            f"bimodal: {len(fast)} fast runs (mean {fast_mean:.2f}) and {len(slow)} slow runs "
            f"(mean {slow_mean:.2f}), pattern {pattern}; the overall mean {overall:.2f} "
            "describes neither regime and is not representative"
        ),
    )
