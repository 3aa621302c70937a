"""`servelab bench`: the post's method on a recipe or on any OpenAI-compatible endpoint."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

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
    endpoint_credentials,
    err_console,
    guarded,
    workload_option,
)
from servelab.cli.bench_load import load_plan
from servelab.endpoint import auth_headers, first_model, resolve_api_key
from servelab.engines import detect_engine
from servelab.errors import BadInput, Interrupted, RunFailed
from servelab.launch import launch
from servelab.options import DEFAULTS, measure_settings
from servelab.recipe import Recipe, load_recipe
from servelab.records import BenchResult
from servelab.render.bench import render_bench
from servelab.render.load import render_load
from servelab.serving import endpoint_identity, running_endpoint
from servelab.workloads import Workload, get_workload

LOAD_HELP = {
    "runs": f"Runs (default: recipe's, else {DEFAULTS.runs}).",
    "concurrency": "Sustained closed-loop levels, e.g. 1,8,32 (see --num-prompts).",
    "mc": "Requests in flight (closed loop), or the cap with --request-rate.",
    "n": "Requests per load level (default: max(16, 4 × concurrency); rate: 10 s worth).",
    "duration": "Seconds per closed-loop level instead of --num-prompts.",
    "rate": "Request rates (req/s, comma list), each a level.",
    "burst": "Gamma shape of the arrivals (1 = Poisson; < 1 burstier).",
    "sweep": "Synchronous, saturation, then --sweep-rates Poisson rates in between.",
    "trace": "Send each --dataset record at its 'timestamp' (ms): trace replay.",
    "in": "Synthetic prompts of exactly N tokens (the model's tokenizer).",
    "out": "Output tokens per load request (default 256).",
    "spread": "Relative spread of input/output lengths (uniform ±).",
    "prefix": "Tokens of a prefix shared by every synthetic prompt.",
    "dataset": "JSONL ({prompt|messages, output_tokens}) or ShareGPT file.",
    "tokenizer": "tokenizer.json (or its folder) counting input tokens.",
    "warmup": "Warm-up requests before each level, excluded (default: one per process).",
    "p": "Client processes (default: one per core; with --ray, one per CPU of the cluster).",
    "ray": "Generate the load as Ray tasks: host:port, auto, or local (a cluster started here).",
}


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


def target_for_endpoint(
    url: str, model: str | None, name: str | None, api_key: str | None, k: int | None
) -> Target:
    url = url.rstrip("/").removesuffix("/v1")
    model = model or first_model(url, api_key)
    engine, version = detect_engine(url, auth_headers(api_key))
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
            raise Interrupted(
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
    runs: int = typer.Option(None, "--runs", min=1, help=LOAD_HELP["runs"]),
    tokens: int = typer.Option(None, "--tokens", min=2, help="Output tokens per run."),
    workload: str = typer.Option(None, "--workload", help=WORKLOAD_HELP),
    prompt: str = typer.Option(None, "--prompt", hidden=True, help=PROMPT_ALIAS_HELP),
    concurrency: str = typer.Option(None, "--concurrency", help=LOAD_HELP["concurrency"]),
    max_concurrency: int = typer.Option(None, "--max-concurrency", min=1, help=LOAD_HELP["mc"]),
    num_prompts: int = typer.Option(None, "--num-prompts", min=1, help=LOAD_HELP["n"]),
    duration: float = typer.Option(None, "--duration", min=0.1, help=LOAD_HELP["duration"]),
    request_rate: str = typer.Option(None, "--request-rate", help=LOAD_HELP["rate"]),
    arrival: str = typer.Option(None, "--arrival", help="poisson (default), gamma or constant."),
    burstiness: float = typer.Option(1.0, "--burstiness", min=0.01, help=LOAD_HELP["burst"]),
    sweep: bool = typer.Option(False, "--sweep", help=LOAD_HELP["sweep"]),
    fixed_schedule: bool = typer.Option(False, "--fixed-schedule", help=LOAD_HELP["trace"]),
    sweep_rates: int = typer.Option(4, "--sweep-rates", min=0, help="Rates between (sweep)."),
    input_len: int = typer.Option(None, "--input-len", min=1, help=LOAD_HELP["in"]),
    output_len: int = typer.Option(None, "--output-len", min=1, help=LOAD_HELP["out"]),
    spread: float = typer.Option(0.0, "--spread", min=0.0, max=0.99, help=LOAD_HELP["spread"]),
    prefix_len: int = typer.Option(0, "--prefix-len", min=0, help=LOAD_HELP["prefix"]),
    dataset: str = typer.Option(None, "--dataset", help=LOAD_HELP["dataset"]),
    dataset_format: str = typer.Option(None, "--dataset-format", help="jsonl or sharegpt."),
    tokenizer: str = typer.Option(None, "--tokenizer", help=LOAD_HELP["tokenizer"]),
    slo: str = typer.Option(None, "--slo", help="Goodput SLOs, e.g. ttft_ms=500,tpot_ms=50."),
    warmup: int = typer.Option(None, "--warmup", min=0, help=LOAD_HELP["warmup"]),
    client_processes: int = typer.Option(0, "--client-processes", min=0, help=LOAD_HELP["p"]),
    ray: str = typer.Option(None, "--ray", metavar="ADDRESS", help=LOAD_HELP["ray"]),
    seed: int = typer.Option(0, "--seed", help="Seed of arrivals and synthetic prompts."),
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
    endpoint, url_key = endpoint_credentials(endpoint)
    recipe, options, prompts = _bench_setup(dict(locals()))
    store = open_store(db)
    with ExitStack() as stack:
        if recipe is None:
            target = target_for_endpoint(endpoint, model, name, options.api_key, k)
        else:
            target = _recipe_target(stack, recipe, fit_context)
        result = run_with_progress(Bench(target, prompts, options, store), options)
    _show(result, keep_cold, json_out)


def _bench_setup(args: dict[str, Any]) -> tuple[Recipe | None, BenchOptions, Workload]:
    """The recipe, the options (command line, else recipe, else defaults) and the workload."""
    recipe = load_recipe(args["recipe_ref"]) if args["recipe_ref"] else None
    args["api_key"] = resolve_api_key(args["api_key"], recipe, args["url_key"])
    levels = parse_levels(args["concurrency"])
    plan = load_plan(levels, args)
    chosen = workload_option(args["workload"], args["prompt"])
    settings = measure_settings(
        recipe.bench if recipe else None, runs=args["runs"], tokens=args["tokens"], workload=chosen
    )
    options = BenchOptions(
        # a load bench measures levels only unless --runs asks for the post's runs too
        runs=0 if plan is not None and args["runs"] is None else settings.runs,
        tokens=settings.tokens,
        keep_cold=args["keep_cold"],
        concurrency=levels,
        depth=args["depth"],
        timeout_s=args["timeout"],
        temperature=args["temperature"],
        api_key=args["api_key"],
        load=plan,
    )
    return recipe, options, get_workload(settings.workload)


def _show(result: BenchResult, keep_cold: bool, json_out: str | None) -> None:
    """The tables, the JSON; exit 1 when a run or a load request failed (all are stored)."""
    if result.runs or result.load is None:  # a load-only bench has no sequential runs to show
        render_bench(result, keep_cold, console)
    if result.load is not None:
        render_load(result.load, console)
    if json_out is not None:
        emit_json(result.contract(), json_out)
    if result.status in ("invalid", "failed"):
        raise RunFailed(f"bench {result.id} is {result.status}: {result.reason}")
    lost = sum(level.requests - level.ok for level in (result.load.levels if result.load else []))
    if lost:
        raise RunFailed(f"{lost} load requests failed; every level is stored (bench {result.id})")
    failed = [run for run in result.runs if not run.ok]
    if failed:
        raise RunFailed(
            f"{len(failed)} of {len(result.runs)} runs failed; all runs are stored "
            f"(bench {result.id})"
        )
