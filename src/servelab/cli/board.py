"""`servelab board`, `compare`, `recommend`: views of the store."""

from __future__ import annotations

import typer
from rich.table import Table

from servelab import metrics
from servelab.cli.app import (
    CSV_HELP,
    DB_HELP,
    JSON_HELP,
    PARQUET_HELP,
    app,
    console,
    db_url,
    emit_json,
    emit_rows,
    guarded,
)
from servelab.report.board import (
    FORMULA,
    HEADERS,
    board_markdown,
    board_rows,
    row_cells,
    tie_notes,
)
from servelab.report.compare import compare, compare_markdown
from servelab.report.format import number
from servelab.report.load_board import FORMULA as LOAD_FORMULA
from servelab.report.ranking import RULE as RANKING_RULE
from servelab.report.recommend import evidence_text, recommend
from servelab.store import Store
from servelab.store.url import redacted


def _print_table(headers: tuple[str, ...] | list[str], rows: list[list[str]]) -> None:
    table = Table(*headers, show_lines=False)
    for row in rows:
        table.add_row(*row)
    console.print(table)


@app.command("board")
@guarded
def board_command(
    markdown: bool = typer.Option(False, "--markdown", help="Print the post's markdown table."),
    history: bool = typer.Option(False, "--all", help="Every bench of any status, oldest first."),
    json_out: str | None = typer.Option(None, "--json", help=JSON_HELP),
    csv_out: str | None = typer.Option(None, "--csv", help=CSV_HELP),
    parquet_out: str | None = typer.Option(None, "--parquet", help=PARQUET_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """One row per stack version: decode t/s mean ± σ (n), α, vision/tools checks, context."""
    with Store(db_url(db)) as store:
        rows = board_rows(store, history=history)
        where = redacted(store.url)
    ties = [] if history else tie_notes(rows)
    if json_out is not None:
        emit_json({"rows": [row.model_dump() for row in rows], "ties": ties}, json_out)
    tabular = emit_rows([row.model_dump() for row in rows], None, csv_out, parquet_out)
    if tabular or json_out is not None:
        return
    if not rows:
        console.print(f"no results in {where} yet (run `servelab bench` or `servelab import`)")
        return
    if markdown:
        print(board_markdown(rows))
        return
    formula = FORMULA
    if history:
        _print_history(rows)
    elif any(row.saturation_tps or row.goodput_rps for row in rows):
        cells = [[*row_cells(r), number(r.saturation_tps), number(r.goodput_rps)] for r in rows]
        _print_table([*HEADERS, "Sat. t/s", "Goodput/s"], cells)
        formula = f"{FORMULA}; {LOAD_FORMULA}"
    else:
        _print_table(HEADERS, [row_cells(row) for row in rows])
    console.print(formula, style="dim", highlight=False)
    for note in ties:
        console.print(note, highlight=False)
    if ties:
        console.print(f"({RANKING_RULE})", style="dim", highlight=False)


def _print_history(rows) -> None:
    """Every bench, oldest first: id, stack, status, figure; reasons below the table."""
    headers = ("Bench", "Stack", "Version", "Status", "t/s AVG", "σ", "n")
    cells = [
        [row.bench_id or "", row.label or row.stack, row.version, row.status] + row_cells(row)[2:5]
        for row in rows
    ]
    table = Table(*headers)
    for line in cells:
        table.add_row(*line, end_section=False)
    console.print(table, soft_wrap=True)
    for row in rows:
        if row.reason:
            console.print(f"{row.bench_id}: {row.status}: {row.reason}", soft_wrap=True)


@app.command("compare")
@guarded
def compare_command(
    first: str = typer.Argument(..., help="Baseline: BENCH id, STACK or STACK@VERSION."),
    second: str = typer.Argument(..., help="Candidate: BENCH id, STACK or STACK@VERSION."),
    markdown: bool = typer.Option(False, "--markdown", help="Print a markdown table."),
    json_out: str | None = typer.Option(None, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """The post's version table between two stored stack versions, with the t/s change's CI."""
    with Store(db_url(db)) as store:
        result = compare(store, first, second)
    if json_out is not None:
        emit_json(result.contract(), json_out)
        return
    if markdown:
        print(compare_markdown(result))
    else:
        headers = ["Field", f"{result.a.stack}@{result.a.version}"]
        headers.append(f"{result.b.stack}@{result.b.version}")
        _print_table(headers, [list(row) for row in result.rows])
    console.print(f"{metrics.CHANGE.text}; {result.method}", style="dim", highlight=False)


@app.command("recommend")
@guarded
def recommend_command(
    needs: str | None = typer.Option(
        None, "--needs", help="Comma list of checks that must have passed, e.g. vision,tools."
    ),
    context: int | None = typer.Option(None, "--context", min=1, help="Minimum context."),
    gpu: str | None = typer.Option(None, "--gpu", help="Only benches on a GPU matching NAME."),
    json_out: str | None = typer.Option(None, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """The fastest measured (not reported) stack meeting the needs, with its evidence."""
    wanted = needs.split(",") if needs else []
    with Store(db_url(db)) as store:
        result = recommend(store, wanted, context=context, gpu=gpu)
    if json_out is not None:
        emit_json(result.model_dump(), json_out)
        return
    best = result.best
    if best is None:
        console.print(f"tie: {result.tie}", style="bold", highlight=False)
        console.print(f"  no winner is called: {result.rule}", highlight=False)
    else:
        console.print(f"{best.stack}@{best.version}", style="bold", highlight=False)
        console.print(f"  evidence: {evidence_text(best)}", highlight=False)
    label = "candidate" if best is None else "runner-up"
    for other in result.others:
        console.print(f"  {label} {other.stack}@{other.version}: {evidence_text(other)}")
    for name, why in sorted(result.rejected.items()):
        console.print(f"  not {name}: {why}", style="dim", highlight=False)
