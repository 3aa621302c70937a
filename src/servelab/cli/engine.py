"""Supervised engines: up, down, status, logs, diagnose."""

from __future__ import annotations

import re
import time
from pathlib import Path

import typer
from rich.table import Table

from servelab.cli.app import JSON_HELP, app, console, emit_json, err_console, guarded
from servelab.cli.notes import Notes
from servelab.engines import diagnose_any, get_engine
from servelab.errors import BadInput
from servelab.launch import log_path_for, up
from servelab.recipe import NAME_PATTERN, load_recipe
from servelab.registry import down, running


@app.command("up")
@guarded
def up_command(
    recipe_ref: str = typer.Argument(..., metavar="RECIPE", help="Recipe name or YAML path."),
    port: int = typer.Option(None, "--port", help="Port (default: a free one)."),
    host: str = typer.Option(None, "--host", help="Bind address (default: the recipe's)."),
    timeout: float = typer.Option(None, "--timeout", help="Seconds to wait for readiness."),
    fit_context: bool = typer.Option(
        False, "--fit-context", help="If the KV cache is too small, relaunch at what fits."
    ),
    json_out: str = typer.Option(None, "--json", help=JSON_HELP),
) -> None:
    """Start a recipe's engine, supervised, and wait until it is ready."""
    recipe = load_recipe(recipe_ref)
    notes = Notes(err_console)
    try:
        endpoint = up(
            recipe, port=port, host=host, timeout=timeout, fit_context=fit_context, progress=notes
        )
    finally:
        notes.done()
    if json_out is not None:
        emit_json(endpoint.to_json(), json_out)
        return
    for note in endpoint.notes:
        console.print(f"[yellow]{note}[/]")
    console.print(
        f"[green]ready[/] {endpoint.name}: {endpoint.url}/v1 (model {endpoint.model}, "
        f"{endpoint.engine} {endpoint.engine_version or '?'}, pid {endpoint.pid})"
    )


@app.command("down")
@guarded
def down_command(
    name: str = typer.Argument(None, help="Engine name (default: all servelab started)."),
) -> None:
    """Stop a supervised engine and every process of its group."""
    stopped = down(name)
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@app.command("status")
@guarded
def status_command(json_out: str = typer.Option(None, "--json", help=JSON_HELP)) -> None:
    """Engines servelab started, and whether they are ready."""
    rows = [
        {
            "name": r["name"],
            "pid": r["pid"],
            "endpoint": r["url"],
            "ready": r["ready"],
            "alive": r["alive"],
            "stale": r["stale"],
            "engine": r["engine"],
            "model": r["model"],
        }
        for r in running()
    ]
    if json_out is not None:
        emit_json(rows, json_out)
        return
    if not rows:
        console.print("no engines running")
        return
    table = Table()
    for column in ("name", "pid", "endpoint", "ready", "engine"):
        table.add_column(column)
    for row in rows:
        state = "ready" if row["ready"] else ("starting/unhealthy" if row["alive"] else "dead")
        if row["stale"]:
            state = "stale: left by a killed launch; `servelab down` stops it"
        table.add_row(
            row["name"], str(row["pid"]), row["endpoint"] or "?", state, row["engine"] or "?"
        )
    console.print(table)


@app.command("logs")
@guarded
def logs_command(
    name: str = typer.Argument(..., help="Engine name."),
    follow: bool = typer.Option(False, "-f", "--follow", help="Keep printing new lines."),
) -> None:
    """Print an engine's log."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise BadInput(f"{name!r}: not an engine name (see `servelab status`)")
    path = log_path_for(name)
    if not path.exists():
        raise BadInput(f"{name}: no log (see `servelab status`)")
    with path.open(errors="replace") as handle:
        typer.echo(handle.read(), nl=False)
        while follow:
            line = handle.readline()
            if line:
                typer.echo(line, nl=False)
            else:
                time.sleep(0.25)


@app.command("diagnose")
@guarded
def diagnose_command(
    logfile: Path = typer.Argument(..., help="An engine log."),
    engine: str = typer.Option(None, "--engine", help="vllm or llamacpp (default: guess)."),
    json_out: str = typer.Option(None, "--json", help=JSON_HELP),
) -> None:
    """Classify an engine log: why it failed, and the fix."""
    if not logfile.is_file():
        raise BadInput(f"{logfile}: no such file")
    text = logfile.read_text(errors="replace")
    found = get_engine(engine).diagnose(text) if engine else diagnose_any(text)
    if json_out is not None:
        emit_json(
            found.to_json() if found else {"kind": None, "message": "nothing recognised"}, json_out
        )
    elif found is None:
        console.print("nothing recognised in this log")
    else:
        console.print(f"[bold]{found.kind}[/]: {found.message}", highlight=False)
    if found is None:
        raise typer.Exit(1)
