"""The self-contained HTML report: board, benches with plots, checks with their evidence.

Everything the page shows is data: jinja2 autoescapes every value (model output included),
the page carries no script, and a Content-Security-Policy forbids scripts and remote loads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from servelab import __version__, metrics
from servelab.records import BenchResult, CheckResult
from servelab.report import plots
from servelab.report.load_plots import latency_curves
from servelab.report.stackchart import stacks_plot

EVIDENCE_LIMIT = 4000  # characters of one evidence value shown before it is cut

Checks = Mapping[str, Sequence[CheckResult]] | Sequence[CheckResult]


def _number(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _percent(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f} %"


def _mark(value: Any) -> str:
    """✓ / ✗ for a stored check outcome, blank when never checked."""
    if value is True:
        return "✓"
    if value is False:
        return "✗"
    return "" if value is None else str(value)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("servelab", "report/templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(number=_number, percent=_percent, mark=_mark)
    return env


def _evidence_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=1, default=str)
    if len(text) > EVIDENCE_LIMIT:
        text = text[:EVIDENCE_LIMIT] + f"\n… ({len(text) - EVIDENCE_LIMIT} more characters)"
    return text


def _check_view(check: CheckResult) -> dict[str, Any]:
    items = [
        [(str(key), _evidence_text(value)) for key, value in item.items()]
        for item in check.evidence
    ]
    return {"name": check.name, "passed": check.passed, "detail": check.detail, "evidence": items}


def _check_groups(checks: Checks) -> list[dict[str, Any]]:
    groups = checks.items() if isinstance(checks, Mapping) else [("", checks)]
    return [
        {"label": label, "checks": [_check_view(check) for check in found]}
        for label, found in groups
        if found
    ]


def _bench_view(bench: BenchResult) -> dict[str, Any]:
    prov = bench.provenance
    mean = bench.summary.mean if bench.summary else None
    spec = bench.spec
    has_spec = spec is not None and (spec.acceptance_rate is not None or spec.per_position)
    gpus = ", ".join(str(gpu.get("name", "?")) for gpu in prov.gpu) or "—"
    label = f"{prov.stack} {prov.stack_version}"
    return {
        "label": label,
        "anchor": f"bench-{bench.id or id(bench)}",
        "bench": bench,
        "prov": prov,
        "gpus": gpus,
        "started": datetime.fromtimestamp(bench.started_at, UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "runs_png": plots.runs_plot(bench.runs, mean, title=label, regimes=bench.regimes),
        "load_runs_png": plots.load_runs_plot(bench.runs, title=label),
        "spec": spec if has_spec else None,
        "acceptance_png": plots.acceptance_plot(spec, title=label) if has_spec else None,
        "concurrency_png": plots.concurrency_plot(bench.concurrency, title=label),
        "imported": prov.imported,
        "load": bench.load,
        "load_png": latency_curves(bench.load, prov.stack) if bench.load else None,
    }


def render_html(
    benches: Sequence[BenchResult],
    checks: Checks,
    board: Sequence[Mapping[str, Any]],
    *,
    title: str = "servelab report",
    generated_at: datetime | None = None,
) -> str:
    """One self-contained HTML page (no script, no remote resource) from stored results.

    ``checks``: CheckResults grouped by a label such as ``"stack version"`` (or one flat list).
    ``board``: rows with stack, version, decode_tps, stdev, n, acceptance_rate, vision, tools,
    context, engine, gpu, reported.
    """
    when = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    template = _environment().get_template("report.html.j2")
    rows = [dict(row) for row in board]
    return template.render(
        title=title,
        generated=when,
        version=__version__,
        board=rows,
        stacks_png=stacks_plot(rows, {bench.id: bench for bench in benches if bench.id}),
        benches=[_bench_view(bench) for bench in benches],
        check_groups=_check_groups(checks),
        m=metrics.CATALOGUE,
    )


def write_html(path: Path, html: str) -> Path:
    """Write the page; the parent folder is created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
