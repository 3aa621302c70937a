"""The chart comparing stacks: each board row's decode t/s with its 95 % CI, and the peak
aggregate t/s over load levels where a bench has them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from servelab.records import BenchResult
from servelab.report.plots import COLD, MEASURED, _data_uri, _finite, plt

REPORTED = "#c17d11"
LOAD = "#4e9a06"


def _label(row: Mapping[str, Any]) -> str:
    name = f"{row.get('label') or row['stack']} {row['version']}"
    if row.get("imported"):
        unranked = "" if row.get("ranked", True) else ", unranked"
        return f"{name}\n(imported: {row['imported']}{unranked})"
    return f"{name}\n(reported)" if row.get("reported") else name


def _colour(row: Mapping[str, Any]) -> str:
    if not row.get("ranked", True):
        return COLD
    return REPORTED if row.get("reported") else MEASURED


def _error(row: Mapping[str, Any], bench: BenchResult | None) -> tuple[float, float]:
    """Distance from the mean to the 95 % CI's ends (0 when there is none)."""
    ci = bench.summary.ci95 if bench and bench.summary else None
    mean = row.get("decode_tps")
    if not ci or mean is None:
        return 0.0, 0.0
    return max(mean - ci[0], 0.0), max(ci[1] - mean, 0.0)


def peak_load_tps(bench: BenchResult | None) -> float | None:
    """The highest aggregate t/s (Σ output tokens / wall) over a bench's load levels."""
    values = [level.aggregate_tps for level in (bench.concurrency if bench else [])]
    values = [value for value in values if _finite(value)]
    return max(values) if values else None


def stacks_plot(
    board: Sequence[Mapping[str, Any]], benches: Mapping[str, BenchResult]
) -> str | None:
    """Horizontal bars, one per board row (fastest on top); a second panel for load peaks."""
    rows = [row for row in board if _finite(row.get("decode_tps"))]
    if not rows:
        return None
    loads = [peak_load_tps(benches.get(row.get("bench_id") or "")) for row in rows]
    panels = 2 if any(value is not None for value in loads) else 1
    height = max(2.5, 0.55 * len(rows) + 1.2)
    figure, axes = plt.subplots(1, panels, figsize=(6 * panels + 2, height), squeeze=False)
    labels = [_label(row) for row in rows][::-1]
    values = [row["decode_tps"] for row in rows][::-1]
    errors = [_error(row, benches.get(row.get("bench_id") or "")) for row in rows][::-1]
    first = axes[0][0]
    first.barh(
        labels,
        values,
        color=[_colour(row) for row in rows][::-1],
        xerr=[[low for low, _ in errors], [high for _, high in errors]],
        capsize=3,
    )
    first.set_title("Decode t/s by stack (bars: 95 % CI of the mean)", fontsize=10)
    first.set_xlabel("decode t/s (imported rows: the tool's own figure)")
    first.tick_params(axis="y", labelsize="small")
    if panels == 2:
        second = axes[0][1]
        second.barh(labels, [value or 0.0 for value in loads][::-1], color=LOAD)
        second.set_title("Peak aggregate t/s over load levels", fontsize=10)
        second.set_xlabel("max over levels of Σ output tokens / wall time")
        second.set_yticklabels([])
    return _data_uri(figure)
