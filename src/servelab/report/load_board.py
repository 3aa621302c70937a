"""Load figures for the board and compare: the saturation throughput and the best goodput of the
latest bench with load levels of each stack version (reliable levels only; never the headline).
"""

from __future__ import annotations

from servelab import metrics
from servelab.records import BenchResult

FORMULA = (
    f"{metrics.LOAD_METRICS['load_saturation'].text}; "
    f"{metrics.LOAD_METRICS['load_goodput_rps'].text}, the best reliable level"
)


def is_load_only(bench: BenchResult) -> bool:
    """A bench that measured load levels and no sequential runs (it has no headline)."""
    return bench.load is not None and not bench.runs and not (bench.summary and bench.summary.n)


def load_figures(bench: BenchResult | None) -> tuple[float | None, float | None]:
    """(saturation output t/s, best goodput req/s) of a bench's reliable load levels."""
    if bench is None or bench.load is None:
        return None, None
    good = [level for level in bench.load.levels if not level.unreliable and level.ok]
    goodput = [level.goodput_rps for level in good if level.goodput_rps is not None]
    return bench.load.saturation_output_tps, max(goodput) if goodput else None


def latest_loads(benches: list[BenchResult]) -> dict[tuple[str, str], BenchResult]:
    """The latest bench with load levels per (stack, version); ``benches`` oldest first."""
    found: dict[tuple[str, str], BenchResult] = {}
    for bench in benches:
        if bench.load is not None and bench.load.levels and not bench.reported:
            found[(bench.provenance.stack, bench.provenance.stack_version)] = bench
    return found
