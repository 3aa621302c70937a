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

from servelab.records import ConcurrencyLevel, RunRecord, SpecStats  # noqa: E402

MEASURED = "#3465a4"
COLD = "#babdb6"
EXCLUDED = "#cc0000"


def _data_uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _or_nan(value: float | None) -> float:
    return value if value is not None else math.nan


def runs_plot(runs: list[RunRecord], mean: float | None = None) -> str | None:
    """Per-run decode t/s: measured runs blue, the cold run grey, failed/short runs red."""
    shown = [run for run in runs if _finite(run.decode_tps)]
    if not shown:
        return None
    figure, axes = plt.subplots(figsize=(7, 3))
    colours = [COLD if run.cold else (MEASURED if run.ok else EXCLUDED) for run in shown]
    axes.bar([str(run.index) for run in shown], [run.decode_tps for run in shown], color=colours)
    if _finite(mean):
        axes.axhline(mean, color="black", linewidth=1, linestyle="--")
    axes.set_xlabel("run")
    axes.set_ylabel("decode t/s")
    legend = [Patch(color=MEASURED, label="measured")]
    if any(run.cold for run in shown):
        legend.append(Patch(color=COLD, label="cold (excluded)"))
    if any(not run.ok and not run.cold for run in shown):
        legend.append(Patch(color=EXCLUDED, label="failed/short (excluded)"))
    axes.legend(handles=legend, loc="lower right", fontsize="small")
    return _data_uri(figure)


def acceptance_plot(spec: SpecStats) -> str | None:
    """Per-position acceptance rate (Δaccepted[i] / Δdrafts) as bars."""
    if not spec.per_position:
        return None
    figure, axes = plt.subplots(figsize=(5, 3))
    positions = [str(index + 1) for index in range(len(spec.per_position))]
    axes.bar(positions, [rate * 100 for rate in spec.per_position], color=MEASURED)
    axes.set_ylim(0, 100)
    axes.set_xlabel("draft position")
    axes.set_ylabel("accepted %")
    return _data_uri(figure)


def concurrency_plot(levels: list[ConcurrencyLevel]) -> str | None:
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
    axes.legend(fontsize="small")
    return _data_uri(figure)
