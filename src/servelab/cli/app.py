"""The typer app and what every command shares: errors as one line, JSON output, --db."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from servelab.errors import ServelabError
from servelab.urls import split_userinfo

app = typer.Typer(
    name="servelab",
    help="Turn a self-hosted LLM endpoint into a measured, verified, reproducible fact.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

STATE = {"debug": False}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int) -> None:
    """Print one line on stderr and exit (line breaks and other control characters in the
    message, e.g. from a file name, are escaped: the error stays one line)."""
    line = _CONTROL.sub(lambda match: match.group(0).encode("unicode_escape").decode(), message)
    line = line.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates
    err_console.print(f"servelab: {line}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


# Fields whose flag is not ``--`` + the field with dashes.
FLAG_OF_FIELD = {"host_port": "--port"}


def flag_for(field: str) -> str:
    """The command-line flag that sets a library field (gpu_util → --gpu-util)."""
    return FLAG_OF_FIELD.get(field, "--" + field.replace("_", "-"))


def guarded(func: F) -> F:
    """Turn servelab errors (and unexpected ones) into one line and an exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except ServelabError as exc:
            if STATE["debug"]:
                raise
            fail(exc.text(flag_for), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except Exception as exc:  # a bug or an unforeseen environment: still one line
            if STATE["debug"]:
                raise
            fail(f"unexpected error: {type(exc).__name__}: {exc} (rerun with --debug)", 1)

    return wrapper  # type: ignore[return-value]


JSON_SCHEMA_VERSION = 1  # of every JSON document servelab writes; raise it on a breaking change


def json_document(data: Any) -> dict[str, Any]:
    """``data`` with ``schema_version`` first; a list becomes ``{"schema_version", "items"}``."""
    if isinstance(data, dict):
        return {"schema_version": JSON_SCHEMA_VERSION, **data}
    return {"schema_version": JSON_SCHEMA_VERSION, "items": data}


def people_to_stderr() -> None:
    """With JSON on stdout, everything for people (tables, progress, notes) goes to stderr."""
    console.file = sys.stderr


def emit_json(data: Any, target: str | None) -> None:
    """``--json -`` (or an empty value) prints to stdout; otherwise writes a file. Every
    document carries ``schema_version``."""
    text = json.dumps(json_document(data), indent=2, default=str)
    if target in (None, "", "-"):
        sys.stdout.write(text + "\n")
    else:
        Path(target).write_text(text + "\n")


def emit_rows(
    rows: list[dict[str, Any]], json_out: str | None, csv_out: str | None, parquet: str | None
) -> bool:
    """Write rows as JSON, CSV and/or Parquet where asked; True when any was asked for."""
    from servelab.report.tabular import emit_csv, write_parquet

    if json_out is not None:
        emit_json(rows, json_out)
    if csv_out is not None:
        emit_csv(rows, csv_out)
    if parquet is not None:
        write_parquet(rows, parquet)
    return any(target is not None for target in (json_out, csv_out, parquet))


def endpoint_credentials(url: str | None) -> tuple[str | None, str | None]:
    """``--endpoint http://user:KEY@host`` → (the URL without credentials, KEY): the key is
    sent as the bearer key (unless --api-key gives one) and never stored or printed."""
    if url is None:
        return None, None
    clean, secret = split_userinfo(url)
    if secret:
        err_console.print(
            "[dim]credentials in the URL are used as the API key and not stored[/]",
            highlight=False,
        )
    return clean, secret


def db_url(option: str | None) -> str | None:
    return option or os.environ.get("SERVELAB_DB")


WORKLOAD_HELP = "Workload name or @FILE."
PROMPT_ALIAS_HELP = "Deprecated name of --workload."


def workload_option(workload: str | None, prompt: str | None) -> str | None:
    """``--workload``, or the deprecated ``--prompt`` (with a note on stderr)."""
    if prompt is not None:
        err_console.print("[dim]note: --prompt is deprecated; use --workload[/]", highlight=False)
    return workload if workload is not None else prompt


JSON_HELP = "Write machine-readable output to FILE ('-' for stdout)."
CSV_HELP = "Write the same rows as --json as CSV to FILE ('-' for stdout)."
PARQUET_HELP = "Write the rows as Parquet to FILE (needs the parquet extra: pandas, pyarrow)."
DB_HELP = "Database URL or SQLite path (default: SERVELAB_DB, else a file in the data dir)."


def _print_version(value: bool) -> None:
    if value:
        from servelab import __version__

        print(f"servelab {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    STATE["debug"] = debug
