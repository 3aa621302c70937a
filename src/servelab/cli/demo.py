"""`servelab demo`: the whole job on the embedded defaults, end to end, on the CPU."""

from __future__ import annotations

import typer
from rich.rule import Rule

from servelab.bench.runner import Bench, BenchOptions, target_for_recipe
from servelab.checks import CheckOptions, check_recipe, store_report
from servelab.cli.app import DB_HELP, app, console, db_url, err_console, guarded
from servelab.cli.notes import Notes
from servelab.engines import get_engine
from servelab.errors import EngineFailed
from servelab.launch import launch
from servelab.plan import build_plan
from servelab.recipe import load_recipe
from servelab.render.bench import render_bench
from servelab.render.check import render_checks
from servelab.report.board import board_markdown, board_rows
from servelab.report.compare import compare, compare_markdown
from servelab.store import Store
from servelab.workloads import get_workload

DEMO_RECIPES = ("local-stories260k", "local-stories260k-draft")


_say = Notes(err_console)


@app.command("demo")
@guarded
def demo_command(
    runs: int = typer.Option(None, "--runs", min=2, help="Runs per bench (recipe default: 6)."),
    db: str = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """plan → up → check → bench → board → compare, on llama.cpp + stories260k + SQLite."""
    store = Store(db_url(db))
    console.print(
        Rule(f"servelab demo: llama.cpp on the CPU, stories260k, results in {store.describe()}")
    )
    first = load_recipe(DEMO_RECIPES[0])
    engine = get_engine(first.engine.name)
    if engine.find_binary() is None:
        raise EngineFailed(engine.missing_binary_message())
    plan = build_plan(first)
    console.print(
        f"plan {first.name}: weights {plan['weights_gib'] * 1024:.2f} MiB, KV "
        f"{plan['kv_bytes_per_token']} bytes/token, {plan['kv_needed_gib'] * 1024:.2f} MiB for "
        f"max_model_len {first.context.max_model_len} (native context {plan['native_context']})",
        highlight=False,
    )
    for name in DEMO_RECIPES:
        recipe = load_recipe(name)
        console.print(Rule(f"{recipe.name} {recipe.version}"))
        only = ["vision", "tools"] + (["lossless"] if recipe.speculative else [])
        report = check_recipe(recipe, CheckOptions(only=only, progress=_say))
        store_report(report, db_url(db))
        render_checks(report, console)
        with launch(recipe, progress=_say) as ep:
            console.print(
                f"up: {ep.url}/v1 ({ep.engine} {ep.engine_version}, pid {ep.pid})", highlight=False
            )
            options = BenchOptions(runs=runs or recipe.bench.runs, tokens=recipe.bench.tokens)
            bench = Bench(
                target_for_recipe(recipe, ep), get_workload(recipe.bench.prompt), options, store
            )
            result = bench.run()
        render_bench(result, False, console)
    console.print(Rule("board (servelab board --markdown)"))
    typer.echo(board_markdown(board_rows(store)))
    console.print(Rule(f"compare {DEMO_RECIPES[0]} {DEMO_RECIPES[1]}"))
    typer.echo(compare_markdown(compare(store, *DEMO_RECIPES)))
    console.print(
        "Next: `servelab report --html report.html`, `servelab show gemma4-26b-a4b-vision-mtp`, "
        "`servelab plan gemma4-26b-a4b-vision-mtp --max-model-len 262144`.",
        highlight=False,
    )
