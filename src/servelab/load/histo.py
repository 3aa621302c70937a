"""Latency distributions as mergeable HDR histograms (the ``hdrhistogram`` package).

Values are recorded in microseconds with 3 significant digits (≤ 0.1 % quantisation), from
1 µs to 1 hour; every client process keeps its own and the parent merges their encodings.
"""

from __future__ import annotations

import math

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3600 * 1_000_000
DIGITS = 3
PERCENTILES = (50, 90, 95, 99)


class Latency:
    """One latency distribution (seconds in, milliseconds out)."""

    def __init__(self) -> None:
        self.hist = HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)

    def record(self, seconds: float) -> None:
        """Record one value; values outside [1 µs, 1 h] are clamped to the range."""
        micros = min(HIGHEST_US, max(LOWEST_US, round(seconds * 1e6)))
        self.hist.record_value(micros)

    @property
    def count(self) -> int:
        return self.hist.get_total_count()

    def encode(self) -> str:
        """The histogram's compressed base64 form (HdrHistogram's own encoding)."""
        return self.hist.encode().decode("ascii") if self.count else ""

    def merge(self, encoded: str) -> None:
        """Add another process's encoded histogram."""
        if encoded:
            self.hist.decode_and_add(encoded.encode("ascii"))

    @classmethod
    def merged(cls, encodings: list[str]) -> Latency:
        latency = cls()
        for encoded in encodings:
            latency.merge(encoded)
        return latency

    def percentile_ms(self, percent: float) -> float | None:
        if not self.count:
            return None
        return self.hist.get_value_at_percentile(percent) / 1000.0

    def summary(self) -> dict[str, float] | None:
        """``{mean, std, p50, p90, p95, p99}`` in ms (population σ), None when empty."""
        if not self.count:
            return None
        out = {
            "mean": self.hist.get_mean_value() / 1000.0,
            "std": self.hist.get_stddev() / 1000.0,
        }
        for percent in PERCENTILES:
            out[f"p{percent}"] = self.hist.get_value_at_percentile(percent) / 1000.0
        return {key: value for key, value in out.items() if math.isfinite(value)}
