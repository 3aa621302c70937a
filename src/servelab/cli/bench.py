"""`servelab bench`: the post's method on a recipe or on any OpenAI-compatible endpoint."""

from __future__ import annotations

import os
from contextlib import ExitStack

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from servelab import metrics
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
from servelab.launch import Endpoint, launch, running
from servelab.options import DEFAULTS, measure_settings
from servelab.recipe import load_recipe
from servelab.records import BenchResult, ConcurrencyLevel
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
    return Target(
        url=url,
        model=model,
        engine=engine,
        engine_version=version,
        stack=name or model,
        stack_version="endpoint",
        k=k,
    )


def render(result: BenchResult, keep_cold: bool) -> None:
    """The post's table (Run | t/s) plus the summary with its formulas."""
    table = Table(
        title=f"{result.provenance.stack} — {result.provenance.workload_id}, "
        f"{result.provenance.tokens} tokens"
    )
    for column in ("Run", "t/s", "tokens", "TTFT s", "e2e t/s", "chunks", "note"):
        table.add_column(column, justify="right" if column != "note" else "left")
    for run in result.runs:
        note = []
        if run.concurrency > 1:
            note.append(f"concurrency {run.concurrency}")
        if run.cold:
            note.append("cold" + ("" if keep_cold else ", excluded"))
        if not run.ok:
            note.append(f"FAILED: {run.error}")
        table.add_row(
            str(run.index),
            f"{run.decode_tps:.2f}" if run.decode_tps is not None else "—",
            str(run.output_tokens) if run.output_tokens is not None else "—",
            f"{run.ttft_s:.3f}" if run.ttft_s is not None else "—",
            f"{run.e2e_tps:.2f}" if run.e2e_tps is not None else "—",
            str(run.chunks),
            "; ".join(note),
        )
    console.print(table)
    summary_line(result)
    spec_line(result)
    if result.regimes and result.regimes.bimodal:
        means = ", ".join(f"{c.mean:.2f} ({len(c.runs)} runs)" for c in result.regimes.clusters)
        console.print(
            f"[bold yellow]bimodal[/]: clusters {means}; sequence {result.regimes.pattern}; "
            "the mean is not representative",
            highlight=False,
        )
    for level in result.concurrency:
        console.print(level_line(level), highlight=False)


def summary_line(result: BenchResult) -> None:
    """The run set's statistics, each with its formula (servelab.metrics)."""
    s = result.summary
    if not (s and s.n):
        console.print("no successful runs to summarise", style="red")
        return
    line = f"{metrics.DECODE_TPS.text}: mean {s.mean:.2f}"
    if s.n > 1:
        line += (
            f", σ {s.stdev:.3f} (sample), n {s.n}, median {s.median:.2f}, range {s.range:.2f} "
            f"[{s.min:.2f}–{s.max:.2f}], 95 % CI [{s.ci95[0]:.2f}, {s.ci95[1]:.2f}], "
            f"CV {100 * s.cv:.2f} %"
        )
    console.print(line, highlight=False)


def spec_line(result: BenchResult) -> None:
    """Acceptance over the measured window, each figure with its formula."""
    spec = result.spec
    if not (spec and spec.acceptance_rate is not None):
        return
    text = (
        f"acceptance {metrics.ACCEPTANCE_RATE.text} = {spec.accepted:.0f} / {spec.drafted:.0f} = "
        f"{100 * spec.acceptance_rate:.2f} % (from {spec.source})"
    )
    if spec.mean_acceptance_length is not None:
        text += f"; {metrics.MEAN_ACCEPTANCE_LENGTH.text} = {spec.mean_acceptance_length:.2f}"
    if spec.estimated_tokens_per_step is not None:
        estimate = metrics.TOKENS_PER_STEP_ESTIMATE
        text += f"; {estimate.label} {estimate.formula} = {spec.estimated_tokens_per_step:.2f}"
    if spec.per_position:
        text += "; per position " + ", ".join(f"{v:.3f}" for v in spec.per_position)
    if spec.timings_drafted is not None and spec.source != "timings":
        text += f"; responses' timings: {spec.timings_accepted} / {spec.timings_drafted}"
    console.print(text, highlight=False)


def level_line(level: ConcurrencyLevel) -> str:
    """One concurrency level, each figure with its formula."""
    return (
        f"concurrency {level.concurrency}: aggregate {level.aggregate_tps or 0:.1f} t/s "
        f"({metrics.AGGREGATE_TPS.formula}), per-user decode "
        f"{level.per_user_decode_tps or 0:.1f} t/s ({metrics.PER_USER_DECODE_TPS.formula}), "
        f"TTFT p50 {level.ttft_p50_s or 0:.3f} s, p99 {level.ttft_p99_s or 0:.3f} s, "
        f"{level.ok}/{level.requests} ok"
    )


def running_endpoint(name: str) -> Endpoint | None:
    """The engine `servelab up` started for this recipe name, when it is ready."""
    for record in running():
        if record["name"] == name and record["ready"]:
            fields = {key: record[key] for key in Endpoint.__dataclass_fields__ if key in record}
            return Endpoint(**fields)
    return None


def open_store(db: str | None):
    from servelab.store import Store

    return Store(db_url(db))


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
    settings = measure_settings(
        recipe.bench if recipe else None,
        runs=runs,
        tokens=tokens,
        workload=workload_option(workload, prompt),
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
    chosen = get_workload(settings.workload)
    store = open_store(db)
    with ExitStack() as stack:
        running_ep = running_endpoint(recipe.name) if recipe is not None else None
        if running_ep is not None:
            err_console.print(f"[dim]using {recipe.name} already up at {running_ep.url}[/]")
            target = target_for_recipe(recipe, running_ep)
        elif recipe is not None:
            err_console.print(f"[dim]starting {recipe.name} …[/]")
            ep = stack.enter_context(launch(recipe, fit_context=fit_context))
            target = target_for_recipe(recipe, ep)
        else:
            target = target_for_endpoint(endpoint, model, name, api_key, k)
        total = options.runs + sum(options.concurrency)
        progress = Progress(
            TextColumn("[bold]bench[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            console=err_console,
            transient=True,
        )
        with progress:
            task = progress.add_task("", total=total)

            def advance(run) -> None:
                tps = f"{run.decode_tps:.1f} t/s" if run.decode_tps else (run.error or "")
                progress.update(task, advance=1, description=f"run {run.index}: {tps}")

            bench = Bench(target, chosen, options, store, on_run=advance)
            try:
                result = bench.run()
            except KeyboardInterrupt:
                kept = len(bench.result.runs)
                raise RunFailed(
                    f"interrupted: {kept} finished runs kept (bench {bench.result.id})"
                ) from None
    render(result, keep_cold)
    if json_out is not None:
        emit_json(result.contract(), json_out)
    failed = [run for run in result.runs if not run.ok]
    if failed:
        raise RunFailed(
            f"{len(failed)} of {len(result.runs)} runs failed; all runs are stored "
            f"(bench {result.id})"
        )
