"""When one measured stack may be called faster than another: ranking with evidence.

A winner needs at least ``MIN_VALID_RUNS`` valid runs on both sides and 95 % intervals of the
mean that do not overlap (each mean ± t(0.975, n − 1) · σ / √n, ``servelab.metrics.CI95``).
Otherwise the pair is a tie, and the reason says which condition failed.
"""

from __future__ import annotations

import math

from servelab.bench.stats import t_quantile
from servelab.report.headline import Headline

MIN_VALID_RUNS = 3
RULE = f"a winner needs ≥ {MIN_VALID_RUNS} valid runs on both sides and non-overlapping 95 % CIs"


def ci95(numbers: Headline) -> tuple[float, float] | None:
    """The 95 % t-interval of a headline's mean (None without n ≥ 2 and σ)."""
    if numbers.mean is None or numbers.stdev is None or numbers.n < 2:
        return None
    half = t_quantile(0.975, numbers.n - 1) * numbers.stdev / math.sqrt(numbers.n)
    return numbers.mean - half, numbers.mean + half


def _interval_text(interval: tuple[float, float]) -> str:
    return f"[{interval[0]:.2f}, {interval[1]:.2f}]"


def tie_reason(
    first: str, first_numbers: Headline, second: str | None, second_numbers: Headline | None
) -> str | None:
    """Why ``first`` (the faster by mean) cannot be called faster than ``second``; None when it
    can. Without a second, only the run count is checked."""
    for name, numbers in ((first, first_numbers), (second, second_numbers)):
        if name is not None and numbers is not None and numbers.n < MIN_VALID_RUNS:
            return f"{name} has {numbers.n} valid runs (< {MIN_VALID_RUNS})"
    if second is None or second_numbers is None:
        return None
    a, b = ci95(first_numbers), ci95(second_numbers)
    if a is None or b is None:
        return f"no 95 % CI for {first if a is None else second}"
    if a[0] <= b[1] and b[0] <= a[1]:
        return f"95 % CIs overlap: {first} {_interval_text(a)}, {second} {_interval_text(b)}"
    return None
