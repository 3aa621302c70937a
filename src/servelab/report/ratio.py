"""The % change between two run sets and its 95 % interval (Fieller's theorem).

For independent means ā (baseline) and b̄ (candidate) with variances of the mean
vₐ = sₐ²/nₐ and v_b = s_b²/n_b, the ratio θ = b̄/ā has the Fieller interval

    { θ : (b̄ − θ·ā)² ≤ t² · (v_b + θ²·vₐ) }

i.e. the roots of (ā² − t²vₐ)·θ² − 2·ā·b̄·θ + (b̄² − t²v_b) = 0. It is bounded only when the
baseline mean differs from 0 significantly (ā² > t²vₐ); otherwise there is no finite interval.
t is Student's 0.975 quantile with Welch–Satterthwaite degrees of freedom for v_b + θ̂²·vₐ at
the point estimate θ̂, rounded down to an integer (conservative). % change = (θ − 1) · 100.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from servelab.bench.stats import t_quantile


@dataclass(frozen=True)
class RatioInterval:
    """b̄/ā with its Fieller interval (None when unbounded or not computable)."""

    ratio: float
    low: float | None
    high: float | None
    df: float | None
    t: float | None

    @property
    def change_pct(self) -> float:
        return (self.ratio - 1) * 100

    @property
    def change_ci_pct(self) -> tuple[float, float] | None:
        if self.low is None or self.high is None:
            return None
        return ((self.low - 1) * 100, (self.high - 1) * 100)


def fieller_from_stats(
    mean_a: float, sd_a: float | None, n_a: int, mean_b: float, sd_b: float | None, n_b: int
) -> RatioInterval:
    """Ratio mean_b / mean_a with its 95 % Fieller interval, from summary statistics."""
    if mean_a == 0:
        raise ValueError("baseline mean is 0: no ratio")
    ratio = mean_b / mean_a
    if sd_a is None or sd_b is None or n_a < 2 or n_b < 2:
        return RatioInterval(ratio, None, None, None, None)
    var_a, var_b = sd_a**2 / n_a, sd_b**2 / n_b
    spread = var_b + ratio**2 * var_a
    if spread == 0:
        return RatioInterval(ratio, ratio, ratio, None, None)
    df = spread**2 / ((var_b**2) / (n_b - 1) + (ratio**2 * var_a) ** 2 / (n_a - 1))
    t = t_quantile(0.975, max(1, math.floor(df)))
    quad_a = mean_a**2 - t**2 * var_a
    if quad_a <= 0:
        return RatioInterval(ratio, None, None, df, t)
    half = math.sqrt(t**2 * (mean_a**2 * var_b + mean_b**2 * var_a) - t**4 * var_a * var_b)
    return RatioInterval(
        ratio, (mean_a * mean_b - half) / quad_a, (mean_a * mean_b + half) / quad_a, df, t
    )


def fieller(baseline: list[float], candidate: list[float]) -> RatioInterval:
    """Ratio of the candidate's mean to the baseline's, with its 95 % Fieller interval."""
    if not baseline or not candidate:
        raise ValueError("both run sets need values")

    def spread(values: list[float]) -> float | None:
        return statistics.stdev(values) if len(values) > 1 else None

    return fieller_from_stats(
        statistics.fmean(baseline),
        spread(baseline),
        len(baseline),
        statistics.fmean(candidate),
        spread(candidate),
        len(candidate),
    )
