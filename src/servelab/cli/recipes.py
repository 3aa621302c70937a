"""Commands about stacks themselves: recipes, show, doctor."""

from __future__ import annotations

import platform
import shlex

import typer
from rich.table import Table

from servelab import __version__
from servelab.cli.app import JSON_HELP, app, console, emit_json, guarded
from servelab.engines import all_engines, get_engine
from servelab.errors import BadInput
from servelab.recipe import list_recipes, load_recipe

SHOW_FORMATS = ("argv", "shell", "docker", "compose", "k8s", "helm", "olares")


@app.command("recipes")
@guarded
def recipes_command(json_out: str = typer.Option(None, "--json", help=JSON_HELP)) -> None:
    """List bundled and user recipes."""
    rows = []
    for origin, recipe in list_recipes():
        spec = recipe.speculative
        rows.append(
            {
                "name": recipe.name,
                "version": recipe.version,
                "engine": recipe.engine.name,
                "model": recipe.model.id,
                "speculative": (
                    f"{spec.method}"
                    + (f" k={spec.num_speculative_tokens}" if spec.num_speculative_tokens else "")
                    if spec
                    else None
                ),
                "features": [f for f in ("vision", "tools") if getattr(recipe.features, f)],
                "origin": origin,
            }
        )
    if json_out is not None:
        emit_json(rows, json_out)
        return
    table = Table(title="servelab recipes")
    table.add_column("name", no_wrap=True)
    for column in ("version", "engine", "model", "speculative", "features"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row["name"],
            row["version"],
            row["engine"],
            row["model"],
            row["speculative"] or "—",
            ", ".join(row["features"]) or "—",
        )
    console.print(table)


@app.command("show")
@guarded
def show_command(
    recipe_ref: str = typer.Argument(..., metavar="RECIPE", help="Recipe name or YAML path."),
    fmt: str = typer.Option("shell", "--format", help=f"One of: {', '.join(SHOW_FORMATS)}."),
    port: int = typer.Option(None, "--port", help="Port to show (default: the engine's)."),
) -> None:
    """The exact launch command (or manifest) a recipe becomes."""
    if fmt not in SHOW_FORMATS:
        raise BadInput(f"--format: {fmt!r} is not one of {', '.join(SHOW_FORMATS)}")
    recipe = load_recipe(recipe_ref)
    engine = get_engine(recipe.engine.name)
    port = port or recipe.server.port or engine.default_port
    if fmt in ("argv", "shell"):
        argv = engine.argv(recipe, host=recipe.server.host, port=port, resolve_models=False)
        if fmt == "argv":
            for arg in argv:
                typer.echo(arg)
        else:
            typer.echo(engine.shell(argv))
        for key, value in recipe.env.items():
            typer.echo(f"# env: {key}={shlex.quote(value)}")
        return
    if fmt == "docker":
        typer.echo(engine.shell(engine.docker_argv(recipe, port=port)))
        return
    from servelab.export import render_export

    typer.echo(render_export(recipe, fmt))


def doctor_report() -> dict:
    """Engines found (with versions), GPUs (NVML), database."""
    engines = []
    for engine in all_engines():
        path = engine.find_binary()
        engines.append(
            {
                "name": engine.name,
                "version": engine.binary_version(path) if path else None,
                "path": str(path) if path else None,
            }
        )
    try:
        from servelab.gpu import detect_gpus

        gpus = detect_gpus()
    except ImportError:
        gpus = []
    db = None
    try:
        from servelab.store import Store

        db = Store(None).describe()
    except Exception as exc:  # the store may be unreachable; doctor still reports
        db = f"unavailable: {exc}"
    return {
        "servelab": __version__,
        "python": platform.python_version(),
        "engines": engines,
        "gpus": gpus,
        "db": db,
    }


@app.command("doctor")
@guarded
def doctor_command(json_out: str = typer.Option(None, "--json", help=JSON_HELP)) -> None:
    """What servelab finds here: engines (+ versions), GPUs (NVML), database."""
    report = doctor_report()
    if json_out is not None:
        emit_json(report, json_out)
        return
    console.print(f"servelab {report['servelab']} on Python {report['python']}")
    for engine in report["engines"]:
        if engine["path"]:
            console.print(f"  [green]✓[/] {engine['name']}: {engine['version']} ({engine['path']})")
        else:
            console.print(f"  [yellow]✗[/] {engine['name']}: not found")
    if report["gpus"]:
        for gpu in report["gpus"]:
            console.print(f"  GPU: {gpu}")
    else:
        console.print("  GPU: none found (NVML absent or no NVIDIA device)")
    console.print(f"  database: {report['db']}")
