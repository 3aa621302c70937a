"""`servelab check`: capability checks on a recipe (launched here) or a running endpoint."""

from __future__ import annotations

import typer

from servelab.checks.lossless import DEFAULT_TOKENS
from servelab.checks.runner import (
    CHECK_NAMES,
    CheckOptions,
    CheckReport,
    check_endpoint,
    check_recipe,
    parse_only,
    store_report,
)
from servelab.cli.app import (
    DB_HELP,
    JSON_HELP,
    app,
    console,
    db_url,
    emit_json,
    endpoint_credentials,
    err_console,
    guarded,
)
from servelab.cli.notes import Notes
from servelab.errors import BadInput, RunFailed
from servelab.recipe import load_recipe
from servelab.render.check import render_checks


def _without_credentials(url: str | None, twin: str | None) -> tuple[str | None, ...]:
    """Both URLs without ``user:KEY@``, and the first key found in them."""
    (url, key), (twin, twin_key) = endpoint_credentials(url), endpoint_credentials(twin)
    return url, twin, key or twin_key


@app.command("check")
@guarded
def check_command(
    recipe_ref: str = typer.Argument(None, metavar="[RECIPE]", help="Recipe name or YAML path."),
    endpoint: str = typer.Option(None, "--endpoint", help="Check a running server at URL."),
    model: str = typer.Option(None, "--model", help="Model id (default: the first served)."),
    only: str = typer.Option(
        None,
        "--only",
        help=f"Comma list of checks: {', '.join(CHECK_NAMES)} (default: what "
        "the recipe's features claim, and context).",
    ),
    context_len: int = typer.Option(
        None,
        "--context-len",
        min=64,
        help="Context check / ceiling target in tokens (default: served max_model_len − headroom).",
    ),
    both_sides: bool = typer.Option(
        False, "--both-sides", help="Context: also test inside the model's native context."
    ),
    tolerance: int = typer.Option(
        0, "--tolerance", min=0, help="Lossless: divergent prompts allowed (default 0)."
    ),
    tokens: int = typer.Option(
        DEFAULT_TOKENS, "--tokens", min=1, help="Lossless: output tokens per prompt."
    ),
    twin_endpoint: str = typer.Option(
        None, "--twin-endpoint", help="Lossless with --endpoint: the no-speculation server."
    ),
    api_key: str = typer.Option(None, "--api-key", help="Bearer key (or SERVELAB_API_KEY)."),
    json_out: str = typer.Option(None, "--json", help=JSON_HELP),
    db: str = typer.Option(None, "--db", help=DB_HELP),
    no_store: bool = typer.Option(False, "--no-store", help="Do not save the results."),
) -> None:
    """Vision, tool calling, agent loop, long-context recall, lossless speculation, ceiling."""
    if (recipe_ref is None) == (endpoint is None):
        raise BadInput("give a RECIPE or --endpoint URL (one of them)")
    endpoint, twin_endpoint, url_key = _without_credentials(endpoint, twin_endpoint)
    options = CheckOptions(
        only=parse_only(only),
        context_len=context_len,
        both_sides=both_sides,
        tolerance=tolerance,
        tokens=tokens,
        twin_endpoint=twin_endpoint,
        api_key=api_key,
        url_key=url_key,
        progress=Notes(err_console),
    )
    if recipe_ref is not None:
        report = check_recipe(load_recipe(recipe_ref), options)
    else:
        report = check_endpoint(endpoint, model, options)
    if not no_store:
        store_report(report, db_url(db))
    _show(report, json_out)


def _show(report: CheckReport, json_out: str | None) -> None:
    """JSON and/or the table; exit 1 when a check failed."""
    if json_out is not None:
        emit_json(report.contract(), json_out)
    if json_out not in ("-", ""):
        render_checks(report, console)
    failed = [check.name for check in report.checks if not check.passed]
    if failed:
        raise RunFailed(f"{len(failed)} of {len(report.checks)} checks failed: {', '.join(failed)}")
