"""Check results on the console: one row per check with its verdict and what was found."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from servelab.checks.runner import CheckReport


def render_checks(report: CheckReport, console: Console) -> None:
    """One row per check: name, PASS/FAIL, what was found."""
    table = Table(title=f"checks — {report.stack or report.model} at {report.endpoint or '—'}")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for check in report.checks:
        verdict = "[green]PASS[/]" if check.passed else "[red]FAIL[/]"
        table.add_row(check.name, verdict, escape(check.detail))
    console.print(table)
