"""Run-set statistics: mean, median, range, sample σ, 95 % Student-t interval, CV, percentiles.

No scipy: the Student t quantile is found by bisection on the exact closed-form CDF for an
integer number of degrees of freedom (Abramowitz & Stegun 26.7.3/26.7.4).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from servelab.records import Summary


def t_two_sided_mass(t: float, df: int) -> float:
    """P(|T| < t) for Student's T with ``df`` (integer ≥ 1) degrees of freedom."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be ≥ 1, got {df}")
    if t <= 0:
        return 0.0
    theta = math.atan(t / math.sqrt(df))
    sin, cos = math.sin(theta), math.cos(theta)
    cos2 = cos * cos
    if df % 2 == 0:
        # sinθ · (1 + ½cos²θ + (1·3)/(2·4)cos⁴θ + … up to cos^(df−2)θ)
        term, total = 1.0, 1.0
        for j in range(2, df, 2):
            term *= cos2 * (j - 1) / j
            total += term
        return sin * total
    if df == 1:
        return 2 * theta / math.pi
    # (2/π)·(θ + sinθ·(cosθ + (2/3)cos³θ + … up to cos^(df−2)θ))
    term, total = cos, cos
    for j in range(3, df - 1, 2):
        term *= cos2 * (j - 1) / j
        total += term
    return 2 / math.pi * (theta + sin * total)


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (0.5 < p < 1) of Student's t with ``df`` degrees of freedom."""
    if not 0.5 < p < 1:
        raise ValueError(f"p must lie in (0.5, 1), got {p}")
    mass = 2 * p - 1  # P(|T| < t) that the one-sided p implies
    low, high = 0.0, 1.0
    while t_two_sided_mass(high, df) < mass:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        if t_two_sided_mass(mid, df) < mass:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2


def median(values: Sequence[float]) -> float:
    """The middle value (mean of the two middle ones for an even count)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100), linear between closest ranks: rank = q/100·(n − 1)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must lie in [0, 100], got {q}")
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    below = math.floor(rank)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (rank - below)


def summarize(values: Sequence[float], confidence: float = 0.95) -> Summary:
    """n, mean, median, min, max, range, sample σ (n − 1), t-interval of the mean, CV = σ/mean.

    σ, the interval and CV need n ≥ 2; n = 0 gives only n.
    """
    n = len(values)
    if n == 0:
        return Summary(n=0)
    mean = math.fsum(values) / n
    low, high = min(values), max(values)
    summary = Summary(n=n, mean=mean, median=median(values), min=low, max=high, range=high - low)
    if n < 2:
        return summary
    stdev = math.sqrt(math.fsum((value - mean) ** 2 for value in values) / (n - 1))
    half_width = t_quantile((1 + confidence) / 2, n - 1) * stdev / math.sqrt(n)
    summary.stdev = stdev
    summary.ci95 = [mean - half_width, mean + half_width]
    summary.cv = stdev / mean if mean else None
    return summary
