"""A bench on the console: the post's run table, the summary, acceptance and levels, each
figure with its formula (servelab.metrics)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from servelab import metrics
from servelab.bench import validity
from servelab.records import BenchResult, ConcurrencyLevel, RunRecord


def _note(run: RunRecord, keep_cold: bool) -> str:
    note = []
    if run.concurrency > 1:
        note.append(f"concurrency {run.concurrency}")
    if run.cold:
        note.append("cold" + ("" if keep_cold else ", excluded"))
    if not run.ok:
        note.append(f"FAILED: {run.error}")
    elif run.valid is False:
        kind = (run.invalid_reason or "invalid").split(" ", 1)[0].rstrip(":")
        note.append(f"INVALID ({kind}), excluded")
    return "; ".join(note)


def _number(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def runs_table(result: BenchResult, keep_cold: bool) -> Table:
    """The post's table (Run | t/s) with the server's own figure beside servelab's."""
    table = Table(
        title=f"{result.provenance.stack} — {result.provenance.workload_id}, "
        f"{result.provenance.tokens} tokens"
    )
    columns = ("Run", "t/s", "server t/s", "tokens", "TTFT s", "e2e t/s", "chunks", "note")
    for column in columns:
        table.add_column(column, justify="right" if column != "note" else "left")
    for run in result.runs:
        table.add_row(
            str(run.index),
            _number(run.decode_tps) if run.valid is not False else "invalid",
            _number(run.server_decode_tps),
            _number(run.output_tokens),
            _number(run.ttft_s, 3),
            _number(run.e2e_tps),
            str(run.chunks),
            _note(run, keep_cold),
        )
    return table


def validity_lines(result: BenchResult, console: Console) -> None:
    """The validity rule's text, and each invalid run's reason with the server's figure."""
    console.print(
        f"t/s: {metrics.DECODE_TPS.text}; server t/s: {metrics.SERVER_DECODE_TPS.text}; "
        f"a run is invalid on a {validity.RULE}; when it disagrees with the server's own "
        f"figure (valid: {validity.AGREEMENT_RULE}); or when it is above the roofline",
        style="dim",
        highlight=False,
    )
    for run in result.runs:
        if run.valid is False and run.invalid_reason:
            server = (
                f"; the server's own figure (real speed): {run.server_decode_tps:.2f} t/s"
                if run.server_decode_tps is not None
                else ""
            )
            console.print(
                f"run {run.index} invalid: {run.invalid_reason}{server}",
                highlight=False,
                soft_wrap=True,
            )


def render_bench(result: BenchResult, keep_cold: bool, console: Console) -> None:
    """The runs table plus the summary, each figure with its formula (servelab.metrics)."""
    console.print(runs_table(result, keep_cold))
    validity_lines(result, console)
    summary_line(result, console)
    spec_line(result, console)
    if result.regimes and result.regimes.bimodal:
        means = ", ".join(f"{c.mean:.2f} ({len(c.runs)} runs)" for c in result.regimes.clusters)
        console.print(
            f"[bold yellow]bimodal[/]: clusters {means}; sequence {result.regimes.pattern}; "
            "the mean is not representative",
            highlight=False,
        )
    for level in result.concurrency:
        console.print(level_line(level), highlight=False)


def summary_line(result: BenchResult, console: Console) -> None:
    """The run set's statistics, each with its formula (servelab.metrics)."""
    s = result.summary
    if not (s and s.n):
        console.print("no valid runs to summarise", style="red")
        return
    line = f"{metrics.DECODE_TPS.text}: mean {s.mean:.2f}"
    if s.n > 1:
        line += (
            f", σ {s.stdev:.3f} (sample), n {s.n}, median {s.median:.2f}, range {s.range:.2f} "
            f"[{s.min:.2f}–{s.max:.2f}], 95 % CI [{s.ci95[0]:.2f}, {s.ci95[1]:.2f}], "
            f"CV {100 * s.cv:.2f} %"
        )
    console.print(line, highlight=False)


def spec_line(result: BenchResult, console: Console) -> None:
    """Acceptance over the measured window, each figure with its formula."""
    spec = result.spec
    if not (spec and spec.acceptance_rate is not None):
        return
    text = (
        f"acceptance {metrics.ACCEPTANCE_RATE.text} = {spec.accepted:.0f} / {spec.drafted:.0f} = "
        f"{100 * spec.acceptance_rate:.2f} % (from {spec.source})"
    )
    if spec.mean_acceptance_length is not None:
        text += f"; {metrics.MEAN_ACCEPTANCE_LENGTH.text} = {spec.mean_acceptance_length:.2f}"
    if spec.estimated_tokens_per_step is not None:
        estimate = metrics.TOKENS_PER_STEP_ESTIMATE
        text += f"; {estimate.label} {estimate.formula} = {spec.estimated_tokens_per_step:.2f}"
    if spec.per_position:
        text += "; per position " + ", ".join(f"{v:.3f}" for v in spec.per_position)
    if spec.timings_drafted is not None and spec.source != "timings":
        text += f"; responses' timings: {spec.timings_accepted} / {spec.timings_drafted}"
    console.print(text, highlight=False)


def level_line(level: ConcurrencyLevel) -> str:
    """One concurrency level, each figure with its formula."""
    return (
        f"concurrency {level.concurrency}: aggregate {level.aggregate_tps or 0:.1f} t/s "
        f"({metrics.AGGREGATE_TPS.formula}), per-user decode "
        f"{level.per_user_decode_tps or 0:.1f} t/s ({metrics.PER_USER_DECODE_TPS.formula}), "
        f"TTFT p50 {level.ttft_p50_s or 0:.3f} s, p99 {level.ttft_p99_s or 0:.3f} s, "
        f"{level.ok}/{level.requests} ok"
    )
