"""`servelab tune`: sweep one recipe key against a matched baseline, with error bars and drift."""

from __future__ import annotations

from typing import Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from servelab import metrics
from servelab.cli.app import (
    DB_HELP,
    JSON_HELP,
    app,
    console,
    db_url,
    emit_json,
    err_console,
    guarded,
)
from servelab.errors import BadInput, RunFailed
from servelab.recipe import load_recipe
from servelab.tune.executors import EXECUTORS, make_executor
from servelab.tune.experiment import TuneRun, run_tune
from servelab.tune.slot import SlotOutcome
from servelab.tune.sweep import OBJECTIVES, TuneSettings, build_plan, parse_sweep, value_text


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _ci(bounds: list[float] | None) -> str:
    return "unbounded" if bounds is None else f"[{bounds[0]:.3f}, {bounds[1]:.3f}]"


def render(data: dict[str, Any], console: Console = console) -> None:
    """Variants in sweep order with speedup and interval, then baseline, drift and the best."""
    table = Table(
        title=f"tune {data['tune_id']}: {data['recipe']}, {data['key']}", box=box.SIMPLE_HEAD
    )
    for column in ("value", "#", "t/s", "σ", "n", "speedup", "95 % CI", "α %", "len", "status"):
        left = column in ("value", "status")
        table.add_column(column, justify="left" if left else "right", no_wrap=not left)
    for v in data["variants"]:
        s = v["summary"]
        alpha = v["acceptance_rate"]
        bounds = v["speedup_ci95"]
        status = "ok" if v["all_ok"] else v["status"]
        if v["status"] == "complete" and not v["all_ok"]:
            status = "runs failed"
        if (v["regimes"] or {}).get("bimodal"):
            status += ", bimodal"
        if v["error"] and v["status"] != "complete":
            status += f": {v['error'][:60]}"
        table.add_row(
            value_text(v["value"]),
            str(v["position"]),
            _fmt(s["mean"], 1),
            _fmt(s["stdev"], 1),
            str(s["n"]),
            _fmt(v["speedup"], 3),
            "—" if bounds is None else f"{bounds[0]:.3f}–{bounds[1]:.3f}",
            "—" if alpha is None else f"{100 * alpha:.1f}",
            _fmt(v["mean_acceptance_length"]),
            status,
        )
    console.print(table)
    console.print(
        f"# = position in the run order; {metrics.ACCEPTANCE_RATE.text}; len = "
        f"{metrics.MEAN_ACCEPTANCE_LENGTH.text}",
        highlight=False,
    )
    base = data["baseline"]
    parts = [
        f"{b['slot']} (order {b['position']}) {_fmt(b['summary']['mean'])}"
        + ("" if b["status"] == "complete" else f" [{b['status']}]")
        for b in base["benches"]
    ]
    console.print(
        f"baseline {base['name']}: pooled mean {_fmt(base['mean'])} t/s (n {base['n']}); "
        + "; ".join(parts),
        highlight=False,
    )
    drift = base["drift"]
    style = "bold yellow" if drift["large"] else None
    console.print(
        drift["note"]
        + (f", 95 % CI of the ratio {_ci(drift['ci95'])}" if drift["ratio"] is not None else ""),
        style=style,
        highlight=False,
    )
    console.print(f"{data['method']['speedup']}. {data['method']['drift']}.", highlight=False)
    for note in data.get("notes", []):
        console.print(f"note: {note}", style="yellow", highlight=False)
    best = data["best"]
    if best is None:
        console.print(
            f"best: none ({data['method']['objective']}: no variant qualifies)",
            style="red",
            highlight=False,
        )
    else:
        line = (
            f"best: {best['label']} — {_fmt(best['decode_tps'])} t/s, speedup "
            f"{_fmt(best['speedup'], 3)} {_ci(best['speedup_ci95'])} "
            f"(objective {best['objective']}: {best['rule']})"
        )
        if best["note"]:
            line += f"; {best['note']}"
        console.print(line, style="bold", highlight=False)


def _announce(outcome: SlotOutcome) -> None:
    if outcome.status == "complete":
        err_console.print(f"[dim]{outcome.slot}: stored bench {outcome.bench_id}[/]")
    else:
        err_console.print(
            f"[red]{outcome.slot}: {outcome.status}: {outcome.error}[/]", highlight=False
        )


def _contract(run: TuneRun, executor: str) -> dict[str, Any]:
    return {
        **run.report,
        "status": run.status,
        "executor": executor,
        "reused": run.reused,
        "outcomes": [outcome.to_json() for outcome in run.outcomes],
    }


@app.command("tune")
@guarded
def tune_command(
    recipe_ref: str = typer.Argument(..., metavar="RECIPE", help="Recipe name or YAML path."),
    sweep: str = typer.Option(..., "--sweep", help="KEY=V1,V2,… (values as YAML scalars)."),
    runs: int = typer.Option(None, "--runs", min=1, help="Runs per bench (default: recipe's)."),
    tokens: int = typer.Option(None, "--tokens", min=2, help="Output tokens per run."),
    workload: str = typer.Option(None, "--workload", help="Workload name or @FILE."),
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
    recipe = load_recipe(recipe_ref)
    parsed = parse_sweep(sweep)
    baseline = load_recipe(baseline_ref) if baseline_ref else None
    settings = TuneSettings(
        runs=runs or recipe.bench.runs,
        tokens=tokens or recipe.bench.tokens,
        workload=workload or recipe.bench.prompt,
        timeout_s=timeout,
    )
    from servelab.workloads import get_workload

    get_workload(settings.workload)  # a bad name fails before anything starts
    plan = build_plan(recipe, parsed, settings, baseline=baseline, seed=seed)
    runner = make_executor(
        executor,
        ray_address=ray_address,
        on_run=lambda run: err_console.print(
            f"[dim]  run {run.index}: "
            + (f"{run.decode_tps:.1f} t/s" if run.decode_tps else str(run.error))
            + "[/]",
            highlight=False,
        ),
    )
    from servelab.store import Store

    with Store(db_url(db)) as store:
        run = run_tune(
            store,
            plan,
            runner,
            resume=resume,
            objective=objective,
            on_done=_announce,
            progress=lambda text: err_console.print(f"[dim]{text}[/]", highlight=False),
        )
    if run.reused:
        err_console.print(f"[dim]resumed tune {run.tune_id}: kept {', '.join(run.reused)}[/]")
    render(run.report, err_console if json_out in ("", "-") else console)
    if json_out is not None:
        emit_json(_contract(run, executor), json_out)
    failed = [v for v in run.report["variants"] if not v["all_ok"]]
    failed += [b for b in run.report["baseline"]["benches"] if b["status"] != "complete"]
    if run.status != "complete" or failed:
        raise RunFailed(
            f"{len(failed)} of {len(run.plan.slots)} slots failed or had failed runs; finished "
            f"benches are stored (tune {run.tune_id}); `--resume {run.tune_id}` retries the slots "
            "that did not finish"
        )
