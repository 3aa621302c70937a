"""When each request of a rate-driven level is sent: Poisson, gamma (burstiness) or constant.

Inter-arrival times have mean ``1 / rate``. Poisson: exponential gaps (CV 1). Gamma with shape
``burstiness``: CV = 1 / √burstiness (< 1 smoother, > 1 burstier; 1 is Poisson). Constant: equal
gaps (CV 0). The first request leaves at offset 0; a seed makes a schedule reproducible.

Random gaps are rescaled so the last request leaves at exactly ``(count − 1) / rate``: the offered
rate is then the achieved one, not a draw that is a few % off (400 Poisson gaps sum to within
±5 % of their mean, one σ). Rescaling the partial sums by the total keeps the process a Poisson
(or gamma renewal) process, conditioned on the sum of its gaps; ``vllm bench serve`` stabilises
its schedule the same way, so two tools (or two seeds) offer the same load.
"""

from __future__ import annotations

import math
import random
import statistics

ARRIVALS = ("poisson", "gamma", "constant")


def offsets(
    count: int, rate: float, arrival: str = "poisson", burstiness: float = 1.0, seed: int = 0
) -> list[float]:
    """Send offsets (seconds from the level's start) for ``count`` requests at ``rate`` req/s."""
    if rate <= 0 or count < 0:
        raise ValueError("rate must be > 0 and count ≥ 0")
    if arrival not in ARRIVALS:
        raise ValueError(f"arrival must be one of {', '.join(ARRIVALS)}")
    if arrival == "gamma" and burstiness <= 0:
        raise ValueError("burstiness must be > 0")
    rng = random.Random(seed)
    mean_gap = 1.0 / rate
    times, now = [], 0.0
    for index in range(count):
        if index:
            if arrival == "constant":
                gap = mean_gap
            elif arrival == "poisson":
                gap = rng.expovariate(rate)
            else:
                gap = rng.gammavariate(burstiness, mean_gap / burstiness)
            now += gap
        times.append(now)
    if arrival != "constant" and count > 1 and times[-1] > 0:
        scale = (count - 1) / rate / times[-1]
        times = [time * scale for time in times]
    return times


def interarrival_cv(times: list[float]) -> float | None:
    """Coefficient of variation (σ / mean) of the gaps between sorted times."""
    ordered = sorted(times)
    gaps = [b - a for a, b in zip(ordered, ordered[1:], strict=False)]
    if len(gaps) < 2:
        return None
    mean = statistics.fmean(gaps)
    return statistics.pstdev(gaps) / mean if mean > 0 else None


def achieved_rate(times: list[float]) -> float | None:
    """(n − 1) / (last send − first send): the rate the sends really had."""
    if len(times) < 2:
        return None
    span = max(times) - min(times)
    return (len(times) - 1) / span if span > 0 else None


def gamma_cv(burstiness: float) -> float:
    """The inter-arrival CV a gamma schedule of this shape has in expectation."""
    return 1.0 / math.sqrt(burstiness)
