"""Latency–throughput curves of a bench's load levels (matplotlib, inline PNG).

Two panels: TTFT and TPOT (p50 and p99, ms) against output t/s, one point per level in order of
throughput; the SLO of each panel as a dashed line; levels the client marked unreliable drawn
hollow and named in the legend. The stack name and the window are in the figure's own title.
"""

from __future__ import annotations

from servelab.load.records import LoadLevel, LoadResult
from servelab.report.plots import _data_uri, plt

PANELS = (("ttft_ms", "TTFT"), ("tpot_ms", "TPOT"))


def _points(levels: list[LoadLevel], key: str, stat: str) -> tuple[list, list]:
    xs, ys = [], []
    for level in levels:
        dist = getattr(level, key)
        if dist is not None and level.output_tps:
            xs.append(level.output_tps)
            ys.append(getattr(dist, stat))
    return xs, ys


def _panel(axes, levels: list[LoadLevel], key: str, name: str, slo: float | None) -> None:
    ordered = sorted(levels, key=lambda level: level.output_tps or 0)
    reliable = [level for level in ordered if not level.unreliable]
    shaky = [level for level in ordered if level.unreliable]
    for stat, marker in (("p50", "o"), ("p99", "s")):
        xs, ys = _points(ordered, key, stat)
        axes.plot(xs, ys, color="#888a85", linewidth=1)
        xs, ys = _points(reliable, key, stat)
        axes.plot(xs, ys, marker=marker, linestyle="none", label=f"{name} {stat}")
        xs, ys = _points(shaky, key, stat)
        if xs:
            axes.plot(xs, ys, marker=marker, linestyle="none", fillstyle="none", color="#cc0000",
                      label=f"{name} {stat} (unreliable)")  # fmt: skip
    if slo is not None:
        axes.axhline(slo, color="#cc0000", linestyle="--", linewidth=1, label=f"SLO {slo:g} ms")
    axes.set_xlabel("output t/s (Σ output tokens / level duration)")
    axes.set_ylabel(f"{name} ms")
    axes.set_title(f"{name} against output throughput", fontsize="medium")
    axes.legend(fontsize="small")


def latency_curves(load: LoadResult, stack: str) -> str | None:
    """Both panels for one bench's load levels; None when no level has a throughput."""
    levels = [level for level in load.levels if level.output_tps]
    if not levels:
        return None
    figure, panes = plt.subplots(1, 2, figsize=(10, 3.6))
    slo = load.slo or {}
    for axes, (key, name) in zip(panes, PANELS, strict=True):
        _panel(axes, levels, key, name, slo.get(key))
    figure.suptitle(f"{stack}: latency against throughput, {len(levels)} load levels")
    return _data_uri(figure)
