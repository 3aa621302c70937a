"""`servelab tune`: sweep one recipe key against a matched baseline, with error bars and drift."""

from __future__ import annotations

from typing import Any

import typer

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
from servelab.errors import BadInput, RunFailed
from servelab.options import measure_settings
from servelab.recipe import load_recipe
from servelab.records import RunRecord
from servelab.render.tune import render_tune
from servelab.tune.executors import EXECUTORS, make_executor
from servelab.tune.experiment import TuneRun, run_tune
from servelab.tune.slot import SlotOutcome
from servelab.tune.sweep import OBJECTIVES, TunePlan, TuneSettings, build_plan, parse_sweep


def _announce(outcome: SlotOutcome) -> None:
    if outcome.status == "complete":
        err_console.print(f"[dim]{outcome.slot}: stored bench {outcome.bench_id}[/]")
    else:
        err_console.print(
            f"[red]{outcome.slot}: {outcome.status}: {outcome.error}[/]", highlight=False
        )


def _run_line(run: RunRecord) -> None:
    tps = f"{run.decode_tps:.1f} t/s" if run.decode_tps else str(run.error)
    err_console.print(f"[dim]  run {run.index}: {tps}[/]", highlight=False)


def _progress_line(text: str) -> None:
    err_console.print(f"[dim]{text}[/]", highlight=False)


def _contract(run: TuneRun, executor: str) -> dict[str, Any]:
    return {
        **run.report.model_dump(),
        "status": run.status,
        "executor": executor,
        "reused": run.reused,
        "outcomes": [outcome.to_json() for outcome in run.outcomes],
    }


def _plan(
    recipe_ref: str,
    sweep: str,
    baseline_ref: str | None,
    seed: int | None,
    timeout: float,
    runs: int | None,
    tokens: int | None,
    workload: str | None,
) -> TunePlan:
    """The tune's plan; a bad recipe, sweep or workload fails before anything starts."""
    recipe = load_recipe(recipe_ref)
    parsed = parse_sweep(sweep)
    baseline = load_recipe(baseline_ref) if baseline_ref else None
    merged = measure_settings(recipe.bench, runs=runs, tokens=tokens, workload=workload)
    settings = TuneSettings(**merged.model_dump(), timeout_s=timeout)
    from servelab.workloads import get_workload

    get_workload(settings.workload)
    return build_plan(recipe, parsed, settings, baseline=baseline, seed=seed)


@app.command("tune")
@guarded
def tune_command(
    recipe_ref: str = typer.Argument(..., metavar="RECIPE", help="Recipe name or YAML path."),
    sweep: str = typer.Option(..., "--sweep", help="KEY=V1,V2,… (values as YAML scalars)."),
    runs: int = typer.Option(None, "--runs", min=1, help="Runs per bench (default: recipe's)."),
    tokens: int = typer.Option(None, "--tokens", min=2, help="Output tokens per run."),
    workload: str = typer.Option(None, "--workload", help=WORKLOAD_HELP),
    prompt: str = typer.Option(None, "--prompt", hidden=True, help=PROMPT_ALIAS_HELP),
    baseline_ref: str = typer.Option(
        None, "--baseline", help="Baseline recipe (default: RECIPE without speculation)."
    ),
    objective: str = typer.Option(
        "decode_tps", "--objective", help=f"How the best is picked: {', '.join(OBJECTIVES)}."
    ),
    seed: int = typer.Option(
        None, "--seed", help="Seed of the variant order (default: random, recorded)."
    ),
    resume: str = typer.Option(
        None,
        "--resume",
        metavar="TUNE_ID|last",
        help="Continue an interrupted tune (same recipe and sweep) without redoing finished "
        "slots; 'last' picks the newest unfinished one.",
    ),
    executor: str = typer.Option(
        "local",
        "--executor",
        help=f"{' or '.join(EXECUTORS)}; with ray every node writes to --db (PostgreSQL for "
        "several hosts; a SQLite file only where all nodes share this filesystem).",
    ),
    ray_address: str = typer.Option(None, "--ray-address", help="Ray cluster (host:port)."),
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds before a run counts as hung."),
    json_out: str = typer.Option(None, "--json", help=JSON_HELP),
    db: str = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Variants of one recipe key against a matched baseline: speedups with 95 % CIs, drift."""
    if objective not in OBJECTIVES:
        raise BadInput(f"--objective {objective!r}: expected one of {', '.join(OBJECTIVES)}")
    chosen = workload_option(workload, prompt)
    plan = _plan(recipe_ref, sweep, baseline_ref, seed, timeout, runs, tokens, chosen)
    runner = make_executor(executor, ray_address=ray_address, on_run=_run_line)
    from servelab.store import Store

    with Store(db_url(db)) as store:
        run = run_tune(
            store,
            plan,
            runner,
            resume=resume,
            objective=objective,
            on_done=_announce,
            progress=_progress_line,
        )
    if run.reused:
        err_console.print(f"[dim]resumed tune {run.tune_id}: kept {', '.join(run.reused)}[/]")
    render_tune(run.report, err_console if json_out in ("", "-") else console)
    if json_out is not None:
        emit_json(_contract(run, executor), json_out)
    _fail_unless_complete(run)


def _fail_unless_complete(run: TuneRun) -> None:
    failed = run.report.failed_slots()
    if run.status != "complete" or failed:
        raise RunFailed(
            f"{failed} of {len(run.plan.slots)} slots failed or had failed runs; finished "
            f"benches are stored (tune {run.tune_id}); `--resume {run.tune_id}` retries the slots "
            "that did not finish"
        )
