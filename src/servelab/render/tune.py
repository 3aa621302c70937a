"""A tune report on the console: variants with speedups and intervals, baseline, drift, best."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table

from servelab import metrics
from servelab.tune.report import TuneReport, VariantReport
from servelab.tune.sweep import value_text

COLUMNS = ("value", "#", "t/s", "σ", "n", "speedup", "95 % CI", "α %", "len", "status")


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


UNBOUNDED_NOTE = (
    "an interval shown as — is unbounded: with so few warm runs (t at few degrees of freedom) "
    "the baseline's mean is not distinguishable from 0; more runs a bench bound it"
)


def _ci(bounds: list[float] | None) -> str:
    return "unbounded" if bounds is None else f"[{bounds[0]:.3f}, {bounds[1]:.3f}]"


def _any_unbounded(report: TuneReport) -> bool:
    return any(v.speedup is not None and v.speedup_ci95 is None for v in report.variants)


def _status(variant: VariantReport) -> str:
    status = "ok" if variant.all_ok else variant.status
    if variant.status == "complete" and not variant.all_ok:
        status = "runs failed"
    if variant.bimodal:
        status += ", bimodal"
    if variant.error and variant.status != "complete":
        status += f": {variant.error[:60]}"
    return status


def _row(variant: VariantReport) -> list[str]:
    summary, alpha, bounds = variant.summary, variant.acceptance_rate, variant.speedup_ci95
    return [
        value_text(variant.value),
        str(variant.position),
        _fmt(summary.mean, 1),
        _fmt(summary.stdev, 1),
        str(summary.n),
        _fmt(variant.speedup, 3),
        "—" if bounds is None else f"{bounds[0]:.3f}–{bounds[1]:.3f}",
        "—" if alpha is None else f"{100 * alpha:.1f}",
        _fmt(variant.mean_acceptance_length),
        _status(variant),
    ]


def variants_table(report: TuneReport) -> Table:
    table = Table(
        title=f"tune {report.tune_id}: {report.recipe}, {report.key}", box=box.SIMPLE_HEAD
    )
    for column in COLUMNS:
        left = column in ("value", "status")
        table.add_column(column, justify="left" if left else "right", no_wrap=not left)
    for variant in report.variants:
        table.add_row(*_row(variant))
    return table


def _baseline_lines(report: TuneReport, console: Console) -> None:
    base = report.baseline
    parts = [
        f"{b.slot} (order {b.position}) {_fmt(b.summary.mean)}"
        + ("" if b.status == "complete" else f" [{b.status}]")
        for b in base.benches
    ]
    console.print(
        f"baseline {base.name}: pooled mean {_fmt(base.mean)} t/s (n {base.n}); "
        + "; ".join(parts),
        highlight=False,
    )
    drift = base.drift
    console.print(
        drift.note
        + (f", 95 % CI of the ratio {_ci(drift.ci95)}" if drift.ratio is not None else ""),
        style="bold yellow" if drift.large else None,
        highlight=False,
    )


def _best_line(report: TuneReport, console: Console) -> None:
    best = report.best
    if best is None:
        console.print(
            f"best: none ({report.method.objective}: no variant qualifies)",
            style="red",
            highlight=False,
        )
        return
    line = (
        f"best: {best.label} — {_fmt(best.decode_tps)} t/s, speedup "
        f"{_fmt(best.speedup, 3)} {_ci(best.speedup_ci95)} "
        f"(objective {best.objective}: {best.rule})"
    )
    if best.note:
        line += f"; {best.note}"
    console.print(line, style="bold", highlight=False)


def render_tune(report: TuneReport, console: Console) -> None:
    """Variants in sweep order with speedup and interval, then baseline, drift and the best."""
    console.print(variants_table(report))
    console.print(
        f"# = position in the run order; {metrics.ACCEPTANCE_RATE.text}; len = "
        f"{metrics.MEAN_ACCEPTANCE_LENGTH.text}",
        highlight=False,
    )
    if _any_unbounded(report):
        console.print(UNBOUNDED_NOTE, style="yellow", highlight=False)
    _baseline_lines(report, console)
    console.print(f"{report.method.speedup}. {report.method.drift}.", highlight=False)
    for note in report.notes:
        console.print(f"note: {note}", style="yellow", highlight=False)
    _best_line(report, console)
