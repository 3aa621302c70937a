"""How far each reported TTFT / TPOT figure can be off, from every request's stamp bounds.

A request's true value lies in ``[low, high]`` (load/stamps.py: its first and last token can
only have been stamped late). Order statistics are monotone in every value, so the true p-th
percentile lies between the p-th percentiles of the lows and of the highs, and the true mean
between their means. A figure's bound is the larger distance from the reported value to either
end, relative to that value: a few requests stamped late widen the tail figures, not the median.

Two bounds are kept. ``total`` includes the stamp resolution (``RESOLUTION_S``: a busy spell
shorter than the probe can see, which every stamp is allowed); ``late`` counts only what the
client was seen to be late by (late wakes and catch-up reads), which is what a saturated client
adds and what marks a level unreliable.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING

from servelab.load.stamps import RESOLUTION_S, Timeline, stamps

if TYPE_CHECKING:
    from servelab.load.worker import Outcome, ShareResult

FIGURES = ("mean", "p50", "p90", "p95", "p99")


def _rank(ordered: Sequence[float], percent: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def figure_bounds(
    values: Sequence[float], lows: Sequence[float], highs: Sequence[float]
) -> dict[str, float | None]:
    """For each figure, the most it can be off (%), given each value's ``[low, high]``."""
    if not values:
        return dict.fromkeys(FIGURES)
    out: dict[str, float | None] = {}
    centre = statistics.fmean(values)
    out["mean"] = _relative(centre, statistics.fmean(lows), statistics.fmean(highs))
    ordered, low, high = sorted(values), sorted(lows), sorted(highs)
    for name in FIGURES[1:]:
        percent = float(name[1:])
        out[name] = _relative(_rank(ordered, percent), _rank(low, percent), _rank(high, percent))
    return out


def _relative(value: float, low: float, high: float) -> float | None:
    return 100 * max(value - low, high - value) / value if value > 0 else None


def worst(bounds: dict[str, float | None]) -> tuple[str, float] | None:
    """The figure with the widest bound, and that bound."""
    given = [(name, value) for name, value in bounds.items() if value is not None]
    return max(given, key=lambda item: item[1]) if given else None


class StampBounds:
    """Every ok request's stamp bounds, gathered per figure (stamps.py, figure_bounds.py)."""

    def __init__(self, results: list[ShareResult]) -> None:
        self.worst: dict[str, list[float]] = {"ttft": [], "tpot": []}
        self.values: dict[str, list[float]] = {"ttft_ms": [], "tpot_ms": []}
        # per kind: (lows, highs) counting only seen lateness, and with the resolution added
        self.late = {kind: ([], []) for kind in self.values}
        self.total = {kind: ([], []) for kind in self.values}
        for result in results:
            timeline = Timeline(result.late_wakes)
            for outcome in (o for o in result.outcomes if o.ok):
                self._add(timeline, outcome)

    def _add(self, timeline: Timeline, o: Outcome) -> None:
        if o.ttft_s is None or o.ttft_s <= 0:
            return
        k, tpot_s = o.max_read_chunks, o.tpot_s
        backlog = (k - 1) * tpot_s if k and tpot_s else 0.0
        first_ttft, decode = timeline.request_bounds(
            o.t_sent, o.ttft_s, o.e2el_s, backlog, o.stamp_slack
        )
        self.worst["ttft"].append(100 * first_ttft)
        first, last = stamps(o.t_sent, o.ttft_s, o.e2el_s, o.stamp_slack)
        first_late = timeline.late_by(first, backlog)
        first_total = timeline.late_by(first, backlog, RESOLUTION_S)
        # TTFT: a late first stamp makes it too high, never too low
        self._keep("ttft_ms", o.ttft_s, (first_late, 0.0), (first_total, 0.0))
        if decode is None or tpot_s is None or o.e2el_s is None or last is None:
            return
        self.worst["tpot"].append(100 * decode)
        per_second = tpot_s / (o.e2el_s - o.ttft_s)  # TPOT change per second of stamp error
        last_late = timeline.late_by(last, backlog)
        last_total = timeline.late_by(last, backlog, RESOLUTION_S)
        # TPOT: a late last stamp lengthens the decode span, a late first one shortens it
        self._keep(
            "tpot_ms",
            tpot_s,
            (last_late * per_second, first_late * per_second),
            (last_total * per_second, first_total * per_second),
        )

    def _keep(
        self,
        kind: str,
        value: float,
        late: tuple[float, float],
        total: tuple[float, float],
    ) -> None:
        """``value`` may be too high by ``late[0]`` and too low by ``late[1]`` counting only
        seen lateness, by ``total`` with the stamp resolution."""
        self.values[kind].append(value)
        for (lows, highs), (too_high, too_low) in (
            (self.late[kind], late),
            (self.total[kind], total),
        ):
            lows.append(max(0.0, value - too_high))
            highs.append(value + too_low)

    def figures(self, late_only: bool) -> dict[str, dict[str, float | None]]:
        """Each TTFT / TPOT figure's bound (%): seen lateness only, or with the resolution."""
        spans = self.late if late_only else self.total
        return {kind: figure_bounds(self.values[kind], *spans[kind]) for kind in self.values}

    def worst_request(self) -> dict[str, float | None]:
        """The largest TTFT and TPOT error bound of any ok request, in %."""
        return {key: max(values, default=None) for key, values in self.worst.items()}
