"""The leaderboard: one row per stack version, from the latest complete bench and stored checks.

Aggregation: for each (stack, version, measured-or-reported) the latest complete bench gives
decode t/s (its summary: mean ± σ over its non-cold runs), α, context, engine and GPU; vision
and tools are the latest stored check outcomes of that stack version (blank when never
checked). Measured and reported results of one stack version are separate rows.
Imported results (`servelab import`) carry the tool's figure; those whose definition is not
servelab's decode t/s (`imported.comparable` false) are listed after the ranked rows, unranked.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from servelab import metrics
from servelab.records import BenchResult, ImportedFrom
from servelab.report.format import (
    context_text,
    engine_text,
    gpu_text,
    mark,
    markdown_table,
    number,
    percent,
)
from servelab.report.headline import Headline, headline
from servelab.report.load_board import is_load_only, latest_loads, load_figures
from servelab.report.ranking import tie_reason
from servelab.store import Store

FORMULA = (
    f"{metrics.BOARD_TPS.text} over {metrics.BOARD_TPS.window}; {metrics.DECODE_TPS.text}; "
    f"{metrics.ACCEPTANCE_RATE.text}; ✓/✗ = latest stored check, blank = never checked; "
    "imported rows show the tool's own figure (see `servelab import`), unranked unless its "
    "definition matches"
)


class BoardRow(BaseModel):
    """One leaderboard row (the `board --json` contract plus n, reported and provenance ids)."""

    stack: str
    version: str
    decode_tps: float | None
    stdev: float | None
    acceptance_rate: float | None
    vision: bool | None = Field(description="Latest stored vision check; None = never checked.")
    tools: bool | None = Field(description="Latest stored tools check; None = never checked.")
    context: int | None
    engine: str
    gpu: str
    n: int | None = Field(description="Runs behind the mean (None when not published).")
    reported: bool
    bench_id: str | None
    label: str | None = None
    source: str | None = None
    bimodal: bool = False
    imported: str | None = Field(None, description="Tool (and version) an imported row came from.")
    figure: str | None = Field(None, description="An imported row's figure and its formula.")
    ranked: bool = Field(True, description="False for imports whose figure is not decode t/s.")
    saturation_tps: float | None = Field(None, description="Latest load bench: saturation t/s.")
    goodput_rps: float | None = Field(None, description="Latest load bench: best goodput.")
    status: str = "complete"
    reason: str | None = Field(None, description="Why the bench is invalid or failed.")
    started_at: float | None = None


def latest_benches(store: Store, *, reported: bool | None = None) -> list[BenchResult]:
    """The latest complete bench of each (stack, version, reported)."""
    latest: dict[tuple[str, str, bool], BenchResult] = {}
    for bench in store.benches(status="complete", reported=reported, with_runs=False):
        if is_load_only(bench):
            continue  # load levels never stand in for the headline (see load_board)
        key = (bench.provenance.stack, bench.provenance.stack_version, bench.reported)
        latest[key] = bench  # oldest first: the last one wins
    return list(latest.values())


def board_rows(store: Store, *, history: bool = False) -> list[BoardRow]:
    """Leaderboard rows, fastest first (rows without a value last); ``history``: every bench
    of any status, oldest first (a bench that is not complete shows no figure)."""
    loads = latest_loads(store.benches(status="complete", reported=False, with_runs=False))
    benches = store.benches(with_runs=False) if history else latest_benches(store)
    rows = [_row(store, bench, loads) for bench in benches]
    if not history:
        rows.sort(
            key=lambda row: (
                not row.ranked,
                row.decode_tps is None,
                -(row.decode_tps or 0),
                row.stack,
            )
        )
    return rows


def _row(store: Store, bench: BenchResult, loads: dict) -> BoardRow:
    """One bench as a row: its headline only when complete."""
    prov = bench.provenance
    outcomes = {
        stored.result.name: stored.result.passed
        for stored in store.check_records(prov.stack, prov.stack_version, reported=bench.reported)
    }
    numbers = headline(bench) if bench.status == "complete" else Headline(None, None, 0)
    origin = prov.imported
    row = BoardRow(
        stack=prov.stack,
        version=prov.stack_version,
        decode_tps=numbers.mean,
        stdev=numbers.stdev,
        acceptance_rate=bench.spec.acceptance_rate if bench.spec else None,
        vision=outcomes.get("vision"),
        tools=outcomes.get("tools"),
        context=prov.served_context(),
        engine=engine_text(bench),
        gpu=gpu_text(bench),
        n=numbers.n or None,
        reported=bench.reported,
        bench_id=bench.id,
        label=prov.model if bench.reported and not origin and prov.model != prov.stack else None,
        source=bench.source,
        bimodal=bool(bench.regimes and bench.regimes.bimodal),
        imported=_tool(origin),
        figure=f"{origin.figure}; {origin.formula}" if origin else None,
        ranked=origin is None or origin.comparable,
        status=bench.status,
        reason=bench.reason,
        started_at=bench.started_at,
    )
    load = None if bench.reported else loads.get((prov.stack, prov.stack_version))
    row.saturation_tps, row.goodput_rps = load_figures(load)
    return row


def _tool(origin: ImportedFrom | None) -> str | None:
    if origin is None:
        return None
    return f"{origin.tool} {origin.tool_version}" if origin.tool_version else origin.tool


def tie_notes(rows: list[BoardRow]) -> list[str]:
    """For each measured row and the next measured one below it: "tie" and why, when the
    upper one cannot be called faster (report/ranking.py)."""
    measured = [row for row in rows if not row.reported and row.decode_tps is not None]
    notes = []
    for upper, lower in zip(measured, measured[1:], strict=False):
        reason = tie_reason(
            _name(upper),
            Headline(upper.decode_tps, upper.stdev, upper.n or 0),
            _name(lower),
            Headline(lower.decode_tps, lower.stdev, lower.n or 0),
        )
        if reason:
            notes.append(f"tie: {_name(upper)} ~ {_name(lower)}: {reason}")
    return notes


def _name(row: BoardRow) -> str:
    return f"{row.stack}@{row.version}"


HEADERS = (
    "Stack",
    "Version",
    "t/s AVG",
    "σ",
    "n",
    "α",
    "Multimodal?",
    "Tool calling?",
    "Context",
    "Engine",
    "GPU",
)


def row_cells(row: BoardRow) -> list[str]:
    """The cells of one row, in HEADERS order."""
    name = row.label or row.stack
    if row.imported:
        name += f" (imported: {row.imported}{'' if row.ranked else ', unranked'})"
    elif row.reported:
        name += " (reported)"
    tps = number(row.decode_tps)
    if row.bimodal and tps:
        tps += " (bimodal)"
    return [
        name,
        row.version,
        tps,
        number(row.stdev),
        "" if row.n is None else str(row.n),
        percent(row.acceptance_rate),
        mark(row.vision),
        mark(row.tools),
        context_text(row.context),
        row.engine,
        row.gpu,
    ]


def board_markdown(rows: list[BoardRow]) -> str:
    """The post's leaderboard shape (| Stack | t/s AVG | Multimodal? | Tool calling? | …), plus
    saturation t/s and goodput when a stack has a load bench."""
    if not any(row.saturation_tps or row.goodput_rps for row in rows):
        return markdown_table(HEADERS, [row_cells(row) for row in rows])
    cells = [[*row_cells(row), number(row.saturation_tps), number(row.goodput_rps)] for row in rows]
    return markdown_table((*HEADERS, "Saturation t/s", "Goodput req/s"), cells)
