"""`servelab report --html` and `servelab export`: artefacts made from results and recipes."""

from __future__ import annotations

from pathlib import Path

import typer

from servelab.cli.app import DB_HELP, app, console, db_url, guarded
from servelab.errors import BadInput
from servelab.export import FORMATS, render_export, write_export
from servelab.recipe import load_recipe
from servelab.records import BenchResult, CheckResult


def _stored(db: str | None) -> tuple[list[BenchResult], dict[str, list[CheckResult]], list[dict]]:
    """The latest complete bench of each stack version (with its runs), checks, board rows."""
    from servelab.report.board import board_rows, latest_benches
    from servelab.report.load_board import latest_loads
    from servelab.store import Store

    with Store(db_url(db)) as store:
        rows = board_rows(store)
        benches = [store.bench(bench.id) for bench in latest_benches(store) if bench.id]
        every = store.benches(status="complete", reported=False, with_runs=False)
        shown = {bench.id for bench in benches}
        benches += [store.bench(b.id) for b in latest_loads(every).values() if b.id not in shown]
        checks: dict[str, list[CheckResult]] = {}
        for row in rows:
            if not row.reported:
                found = store.checks(row.stack, row.version)
                if found:
                    checks[f"{row.stack} {row.version}"] = found
    return benches, checks, [row.model_dump() for row in rows]


@app.command("report")
@guarded
def report_command(
    html: Path = typer.Option(..., "--html", help="Write the self-contained HTML page here."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    title: str = typer.Option("servelab report", "--title", help="Page title."),
) -> None:
    """One HTML page: the board, each stack's latest bench with plots, and the checks' evidence."""
    from servelab.report.html import render_html, write_html  # matplotlib: only when needed

    if html.is_dir():
        raise BadInput(f"--html {html}: is a folder; give a file name")
    benches, checks, board = _stored(db)
    path = write_html(html, render_html(benches, checks, board, title=title))
    console.print(
        f"wrote {path} ({len(board)} board rows, {len(benches)} benches, "
        f"{sum(len(found) for found in checks.values())} checks)",
        highlight=False,
    )


@app.command("export")
@guarded
def export_command(
    recipe_ref: str = typer.Argument(..., metavar="RECIPE", help="Bundled name or YAML path."),
    fmt: str = typer.Option(..., "--format", help=f"One of: {', '.join(FORMATS)}."),
    out: Path | None = typer.Option(
        None, "--out", help="Write files under this folder (charts need it; else stdout)."
    ),
    namespace: str | None = typer.Option(None, "--namespace", help="Kubernetes namespace."),
    nodes: int | None = typer.Option(
        None, "--nodes", help="Spread one server over N nodes (LeaderWorkerSet + Ray)."
    ),
    port: int | None = typer.Option(None, "--port", help="compose: published port."),
    bind: str = typer.Option("127.0.0.1", "--bind", help="compose: host address to publish on."),
    image: str | None = typer.Option(
        None, "--image", help="job: an image holding servelab and the engine."
    ),
    run_as_user: int | None = typer.Option(
        None, "--run-as-user", help="Run as this non-root UID (image permitting)."
    ),
    cache_size: str | None = typer.Option(
        None, "--cache-size", help="Model cache volume size (default: 2 × weights + 1 GiB)."
    ),
    shm_size: str = typer.Option("16Gi", "--shm-size", help="/dev/shm size (memory-backed)."),
    storage_class: str | None = typer.Option(None, "--storage-class", help="PVC storage class."),
) -> None:
    """A runnable manifest for a recipe: compose, k8s, helm, olares (charts) or a bench job."""
    recipe = load_recipe(recipe_ref)
    opts = {
        "namespace": namespace,
        "nodes": nodes,
        "host_port": port,
        "bind": bind,
        "image": image,
        "run_as_user": run_as_user,
        "cache_size": cache_size,
        "shm_size": shm_size,
        "storage_class": storage_class,
    }
    if out is None:
        if fmt in ("helm", "olares"):
            raise BadInput(f"--format {fmt} writes a chart folder: give --out DIR")
        print(render_export(recipe, fmt, **opts), end="")
        return
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out}: not a folder")
    for path in write_export(recipe, fmt, out, **opts):
        console.print(f"wrote {path}", highlight=False)
