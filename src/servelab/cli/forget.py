"""`servelab forget BENCH`: remove one bench and its runs (after a confirmation or --yes)."""

from __future__ import annotations

import typer

from servelab.cli.app import DB_HELP, app, console, db_url, guarded
from servelab.errors import BadInput
from servelab.store import Store
from servelab.store.url import redacted


@app.command("forget")
@guarded
def forget_command(
    bench_id: str = typer.Argument(..., metavar="BENCH", help="Bench id (see `board --all`)."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Remove one bench and its runs from the database."""
    with Store(db_url(db)) as store:
        bench = store.bench(bench_id)
        prov = bench.provenance
        what = f"bench {bench_id} ({prov.stack}@{prov.stack_version}, {bench.status}, "
        what += f"{len(bench.runs)} runs) from {redacted(store.url)}"
        if not yes and not typer.confirm(f"remove {what}?", default=False, err=True):
            raise BadInput("not removed (confirm, or pass --yes)")
        store.forget_bench(bench_id)
    console.print(f"removed {what}", highlight=False)
