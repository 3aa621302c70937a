"""`servelab runs BENCH`: one stored bench's runs (or its load levels) as a table, JSON or CSV."""

from __future__ import annotations

import typer
from rich.table import Table

from servelab.cli.app import (
    CSV_HELP,
    DB_HELP,
    JSON_HELP,
    PARQUET_HELP,
    app,
    console,
    db_url,
    emit_rows,
    guarded,
)
from servelab.errors import BadInput
from servelab.records import BenchResult
from servelab.render.bench import render_bench
from servelab.report.compare import find_bench
from servelab.store import Store

RUN_FIELDS = (
    "index",
    "cold",
    "ok",
    "concurrency",
    "output_tokens",
    "ttft_s",
    "decode_tps",
    "e2e_tps",
    "duration_s",
    "chunks",
    "error",
    "valid",
    "invalid_reason",
    "server_decode_tps",
    "server_source",
)


def _bench(store: Store, ref: str) -> BenchResult:
    """A bench id, else STACK or STACK@VERSION (its latest complete bench)."""
    try:
        return store.bench(ref)
    except BadInput:
        return store.bench(find_bench(store, ref).id or "")


@app.command("runs")
@guarded
def runs_command(
    ref: str = typer.Argument(..., metavar="BENCH", help="Bench id, STACK or STACK@VERSION."),
    levels: bool = typer.Option(False, "--levels", help="The load levels instead of the runs."),
    json_out: str | None = typer.Option(None, "--json", help=JSON_HELP),
    csv_out: str | None = typer.Option(None, "--csv", help=CSV_HELP),
    parquet_out: str | None = typer.Option(None, "--parquet", help=PARQUET_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Every stored run of a bench (decode t/s = (output_tokens − 1) / (t_last − t_first))."""
    with Store(db_url(db)) as store:
        bench = _bench(store, ref)
    if levels:
        rows = [level.model_dump() for level in bench.concurrency]
    else:
        rows = [{key: getattr(run, key) for key in RUN_FIELDS} for run in bench.runs]
    stamp = {"bench_id": bench.id, "stack": bench.provenance.stack}
    rows = [stamp | {"version": bench.provenance.stack_version} | row for row in rows]
    if emit_rows(rows, json_out, csv_out, parquet_out):
        return
    if not rows:
        console.print(f"bench {bench.id}: no {'load levels' if levels else 'runs'} stored")
        return
    if not levels:
        status = f"{bench.status}" + (f" ({bench.reason})" if bench.reason else "")
        console.print(f"bench {bench.id}: {status}", highlight=False, soft_wrap=True)
        render_bench(bench, False, console)
        return
    table = Table(*[key for key in rows[0] if key not in stamp and key != "version"])
    for row in rows:
        cells = [value for key, value in row.items() if key not in stamp and key != "version"]
        table.add_row(*["" if value is None else str(value) for value in cells])
    console.print(f"{bench.provenance.stack}@{bench.provenance.stack_version} (bench {bench.id})")
    console.print(table)
