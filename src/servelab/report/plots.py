"""Plots for the HTML report: matplotlib (Agg) figures as inline base64 PNG data URIs."""

from __future__ import annotations

import base64
import io
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from servelab.records import ConcurrencyLevel, Regimes, RunRecord, SpecStats  # noqa: E402

MEASURED = "#3465a4"
COLD = "#babdb6"
EXCLUDED = "#cc0000"
OUTLIER = "#5c3566"
CLUSTERS = ("#3465a4", "#f57900", "#4e9a06", "#75507b")
LEVELS = ("#f57900", "#4e9a06", "#75507b", "#c17d11", "#06989a")


def _data_uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _or_nan(value: float | None) -> float:
    return value if value is not None else math.nan


def robust_top(values: list[float]) -> float | None:
    """An axis top that an outlier does not set: Q3 + 3·IQR (at least 1.1 × the median) when
    the largest value lies beyond it; None when every value fits."""
    if len(values) < 4:
        return None
    ordered = sorted(values)
    q1, q3 = ordered[len(ordered) // 4], ordered[(3 * len(ordered)) // 4]
    top = max(q3 + 3 * (q3 - q1), 1.1 * ordered[len(ordered) // 2])
    return top if ordered[-1] > top * 1.05 else None


def _clip(axes, labels: list[str], values: list[float]) -> None:
    """Clip the y axis at a robust top; mark each clipped bar with ▲ and its value."""
    top = robust_top(values)
    if top is None:
        return
    axes.set_ylim(0, top)
    for label, value in zip(labels, values, strict=True):
        if value > top:
            axes.annotate(
                f"▲ {value:,.0f}",
                (label, top),
                ha="center",
                va="top",
                fontsize="small",
                color=OUTLIER,
            )


def _run_colours(runs: list[RunRecord], regimes: Regimes | None) -> tuple[list[str], list]:
    """Bar colours and legend: cold grey, failed red, else by regime cluster (or blue)."""
    cluster_of = {}
    legend = []
    if regimes is not None and regimes.bimodal:
        for number, cluster in enumerate(regimes.clusters):
            colour = CLUSTERS[number % len(CLUSTERS)]
            cluster_of |= dict.fromkeys(cluster.runs, colour)
            legend.append(Patch(color=colour, label=f"regime {number + 1}: {cluster.mean:,.1f}"))
    colours = [
        COLD if run.cold else EXCLUDED if not run.ok else cluster_of.get(run.index, MEASURED)
        for run in runs
    ]
    if not legend:
        legend.append(Patch(color=MEASURED, label="measured"))
    if any(run.cold for run in runs):
        legend.append(Patch(color=COLD, label="cold (excluded)"))
    if any(not run.ok and not run.cold for run in runs):
        legend.append(Patch(color=EXCLUDED, label="failed/short (excluded)"))
    return colours, legend


def runs_plot(
    runs: list[RunRecord],
    mean: float | None = None,
    *,
    title: str = "",
    regimes: Regimes | None = None,
) -> str | None:
    """Sequential (single-stream) runs' decode t/s: measured blue (or coloured by regime when
    bimodal), cold grey, failed/short red; outliers clipped and marked."""
    shown = [run for run in runs if _finite(run.decode_tps) and run.concurrency == 1]
    if not shown:
        return None
    figure, axes = plt.subplots(figsize=(7, 3))
    colours, legend = _run_colours(shown, regimes)
    labels = [str(run.index) for run in shown]
    values = [run.decode_tps for run in shown]
    axes.bar(labels, values, color=colours)
    if _finite(mean):
        axes.axhline(mean, color="black", linewidth=1, linestyle="--")
    _clip(axes, labels, values)
    axes.set_title(f"{title} — sequential runs" if title else "sequential runs", fontsize=10)
    axes.set_xlabel("run (one stream at a time)")
    axes.set_ylabel("decode t/s")
    axes.legend(handles=legend, loc="lower right", fontsize="small")
    return _data_uri(figure)


def load_runs_plot(runs: list[RunRecord], *, title: str = "") -> str | None:
    """Per-stream decode t/s of the runs at concurrency > 1, one colour per level."""
    shown = [run for run in runs if _finite(run.decode_tps) and run.concurrency > 1]
    if not shown:
        return None
    levels = sorted({run.concurrency for run in shown})
    figure, axes = plt.subplots(figsize=(7, 3))
    labels = [f"{run.index}" for run in shown]
    colours = [
        EXCLUDED if not run.ok else LEVELS[levels.index(run.concurrency) % len(LEVELS)]
        for run in shown
    ]
    values = [run.decode_tps for run in shown]
    axes.bar(labels, values, color=colours)
    _clip(axes, labels, values)
    legend = [
        Patch(color=LEVELS[number % len(LEVELS)], label=f"{level} streams")
        for number, level in enumerate(levels)
    ]
    axes.legend(handles=legend, loc="lower right", fontsize="small")
    axes.set_title(f"{title} — runs under load" if title else "runs under load", fontsize=10)
    axes.set_xlabel("request")
    axes.set_ylabel("per-stream decode t/s")
    axes.tick_params(axis="x", labelsize="x-small")
    return _data_uri(figure)


def acceptance_plot(spec: SpecStats, *, title: str = "") -> str | None:
    """Per-position acceptance rate (Δaccepted[i] / Δdrafts) as bars."""
    if not spec.per_position:
        return None
    figure, axes = plt.subplots(figsize=(5, 3))
    positions = [str(index + 1) for index in range(len(spec.per_position))]
    axes.bar(positions, [rate * 100 for rate in spec.per_position], color=MEASURED)
    axes.set_ylim(0, 100)
    axes.set_xlabel("draft position")
    axes.set_ylabel("accepted %")
    name = "acceptance per draft position"
    axes.set_title(f"{title} — {name}" if title else name, fontsize=10)
    return _data_uri(figure)


def concurrency_plot(levels: list[ConcurrencyLevel], *, title: str = "") -> str | None:
    """Aggregate t/s and per-user decode t/s against the number of streams."""
    points = sorted(levels, key=lambda level: level.concurrency)
    if not any(_finite(level.aggregate_tps) for level in points):
        return None
    figure, axes = plt.subplots(figsize=(6, 3))
    streams = [level.concurrency for level in points]
    aggregate = [_or_nan(level.aggregate_tps) for level in points]
    per_user = [_or_nan(level.per_user_decode_tps) for level in points]
    axes.plot(streams, aggregate, marker="o", label="aggregate")
    axes.plot(streams, per_user, marker="s", label="per user")
    axes.set_xticks(streams)
    axes.set_xlabel("concurrent streams")
    axes.set_ylabel("t/s")
    axes.set_title(f"{title} — load levels" if title else "load levels", fontsize=10)
    axes.legend(fontsize="small")
    return _data_uri(figure)
