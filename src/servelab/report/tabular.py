"""Rows (the `--json` dicts) as CSV, or Parquet through pandas when the extra is installed."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

from servelab.errors import BadInput

PARQUET_HINT = "--parquet needs pandas and pyarrow: pip install 'servelab[parquet]'"


def _cell(value: Any) -> Any:
    """Lists and dicts as JSON text; None as an empty cell; the rest as is."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)
    return value


def columns(rows: list[dict[str, Any]]) -> list[str]:
    """Every key, in first-seen order."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def csv_text(rows: list[dict[str, Any]], fields: list[str] | None = None) -> str:
    """A header row then one line per row (RFC 4180 quoting)."""
    out = io.StringIO()
    names = fields or columns(rows)
    writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(row.get(key)) for key in names})
    return out.getvalue()


def emit_csv(rows: list[dict[str, Any]], target: str, fields: list[str] | None = None) -> None:
    """``-`` prints to stdout; otherwise writes the file."""
    text = csv_text(rows, fields)
    if target in ("", "-"):
        sys.stdout.write(text)
    else:
        Path(target).write_text(text)


def write_parquet(rows: list[dict[str, Any]], target: str) -> None:
    """One Parquet file (nested values as JSON text); needs the parquet extra."""
    try:
        import pandas
    except ImportError:
        raise BadInput(PARQUET_HINT) from None
    nested = (list, dict)
    flat = [
        {key: json.dumps(v) if isinstance(v, nested) else v for key, v in row.items()}
        for row in rows
    ]
    frame = pandas.DataFrame(flat)
    try:
        frame.to_parquet(target, index=False)
    except ImportError:
        raise BadInput(PARQUET_HINT) from None
