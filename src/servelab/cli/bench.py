"""`servelab bench`: the post's method on a recipe or on any OpenAI-compatible endpoint."""

from __future__ import annotations

import os
from contextlib import ExitStack

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from servelab.bench.runner import Bench, BenchOptions, Target, target_for_recipe
from servelab.cli.app import (
    DB_HELP,
    JSON_HELP,
    PROMPT_ALIAS_HELP,
    WORKLOAD_HELP,
    app,
    console,
    db_url,
    emit_json,
    err_console,
    guarded,
    workload_option,
)
from servelab.engines import detect_engine
from servelab.errors import BadInput, RunFailed
from servelab.launch import launch
from servelab.options import DEFAULTS, measure_settings
from servelab.recipe import Recipe, load_recipe
from servelab.records import BenchResult
from servelab.render.bench import render_bench
from servelab.serving import endpoint_identity, running_endpoint
from servelab.workloads import get_workload


def parse_levels(text: str | None) -> list[int]:
    if not text:
        return []
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise BadInput(f"--concurrency: expected a comma list of integers, got {text!r}") from None
    if any(level < 1 for level in levels):
        raise BadInput("--concurrency: every level must be ≥ 1")
    return levels


def endpoint_model(url: str, api_key: str | None) -> str:
    """The first model an endpoint serves (one line on failure)."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.get(url.rstrip("/") + "/v1/models", headers=headers, timeout=10.0)
    except httpx.HTTPError as exc:
        raise RunFailed(f"{url}: unreachable ({type(exc).__name__}: {exc})") from None
    if response.status_code != 200:
        raise RunFailed(f"{url}/v1/models answered HTTP {response.status_code}; pass --model")
    try:
        return response.json()["data"][0]["id"]
    except (ValueError, KeyError, IndexError):
        raise RunFailed(f"{url}/v1/models: no model listed") from None


def target_for_endpoint(
    url: str, model: str | None, name: str | None, api_key: str | None, k: int | None
) -> Target:
    url = url.rstrip("/").removesuffix("/v1")
    model = model or endpoint_model(url, api_key)
    engine, version = detect_engine(url)
    stack, stack_version = endpoint_identity(url, model, version)
    return Target(
        url=url,
        model=model,
        engine=engine,
        engine_version=version,
        stack=name or stack,
        stack_version=stack_version,
        k=k,
    )


def open_store(db: str | None):
    from servelab.store import Store

    return Store(db_url(db))


def run_with_progress(bench: Bench, options: BenchOptions) -> BenchResult:
    """Run the bench with a progress bar on stderr; Ctrl-C keeps the finished runs."""
    progress = Progress(
        TextColumn("[bold]bench[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=err_console,
        transient=True,
    )
    with progress:
        task = progress.add_task("", total=options.runs + sum(options.concurrency))

        def advance(run) -> None:
            tps = f"{run.decode_tps:.1f} t/s" if run.decode_tps else (run.error or "")
            progress.update(task, advance=1, description=f"run {run.index}: {tps}")

        bench.on_run = advance
        try:
            return bench.run()
        except KeyboardInterrupt:
            kept = len(bench.result.runs)
            raise RunFailed(
                f"interrupted: {kept} finished runs kept (bench {bench.result.id})"
            ) from None


def _recipe_target(stack: ExitStack, recipe: Recipe, fit_context: bool) -> Target:
    """The recipe's engine `servelab up` already started, else one launched for this bench."""
    running_ep = running_endpoint(recipe.name)
    if running_ep is not None:
        err_console.print(f"[dim]using {recipe.name} already up at {running_ep.url}[/]")
        return target_for_recipe(recipe, running_ep)
    err_console.print(f"[dim]starting {recipe.name} …[/]")
    return target_for_recipe(recipe, stack.enter_context(launch(recipe, fit_context=fit_context)))


@app.command("bench")
@guarded
def bench_command(
    recipe_ref: str = typer.Argument(None, metavar="[RECIPE]", help="Recipe name or YAML path."),
    endpoint: str = typer.Option(None, "--endpoint", help="Bench a running server at URL."),
    model: str = typer.Option(None, "--model", help="Model id (default: the first served)."),
    name: str = typer.Option(None, "--name", help="Stack name to store an endpoint under."),
    runs: int = typer.Option(
        None, "--runs", min=1, help=f"Runs (default: recipe's, else {DEFAULTS.runs})."
    ),
    tokens: int = typer.Option(None, "--tokens", min=2, help="Output tokens per run."),
    workload: str = typer.Option(None, "--workload", help=WORKLOAD_HELP),
    prompt: str = typer.Option(None, "--prompt", hidden=True, help=PROMPT_ALIAS_HELP),
    concurrency: str = typer.Option(None, "--concurrency", help="Levels, e.g. 1,2,4."),
    depth: int = typer.Option(0, "--depth", min=0, help="Prefill N tokens of context first."),
    keep_cold: bool = typer.Option(False, "--keep-cold", help="Count the first (cold) run."),
    temperature: float = typer.Option(0.0, "--temperature", help="Sampling temperature."),
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds before a run counts as hung."),
    k: int = typer.Option(None, "--k", help="Draft tokens per step (endpoint mode)."),
    fit_context: bool = typer.Option(False, "--fit-context", help="See `servelab up`."),
    api_key: str = typer.Option(None, "--api-key", help="Bearer key (or SERVELAB_API_KEY)."),
    json_out: str = typer.Option(None, "--json", help=JSON_HELP),
    db: str = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Fixed-length streamed runs: per-run decode t/s, statistics, acceptance, regimes."""
    if (recipe_ref is None) == (endpoint is None):
        raise BadInput("give a RECIPE or --endpoint URL (one of them)")
    api_key = api_key or os.environ.get("SERVELAB_API_KEY")
    recipe = load_recipe(recipe_ref) if recipe_ref else None
    chosen = workload_option(workload, prompt)
    settings = measure_settings(
        recipe.bench if recipe else None, runs=runs, tokens=tokens, workload=chosen
    )
    options = BenchOptions(
        runs=settings.runs,
        tokens=settings.tokens,
        keep_cold=keep_cold,
        concurrency=parse_levels(concurrency),
        depth=depth,
        timeout_s=timeout,
        temperature=temperature,
        api_key=api_key,
    )
    prompts = get_workload(settings.workload)
    store = open_store(db)
    with ExitStack() as stack:
        if recipe is None:
            target = target_for_endpoint(endpoint, model, name, api_key, k)
        else:
            target = _recipe_target(stack, recipe, fit_context)
        result = run_with_progress(Bench(target, prompts, options, store), options)
    render_bench(result, keep_cold, console)
    if json_out is not None:
        emit_json(result.contract(), json_out)
    failed = [run for run in result.runs if not run.ok]
    if failed:
        raise RunFailed(
            f"{len(failed)} of {len(result.runs)} runs failed; all runs are stored "
            f"(bench {result.id})"
        )
