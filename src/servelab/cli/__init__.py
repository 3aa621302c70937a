"""servelab's command line: one module per group of commands, all on one typer app."""

from __future__ import annotations

import sys

# Each module registers its commands on `app` when imported.
from servelab.cli import artefacts as _artefacts  # noqa: E402,F401
from servelab.cli import bench as _bench  # noqa: E402,F401
from servelab.cli import check as _check  # noqa: E402,F401
from servelab.cli import demo as _demo  # noqa: E402,F401
from servelab.cli import engine as _engine  # noqa: E402,F401
from servelab.cli import plan as _plan  # noqa: E402,F401
from servelab.cli import recipes as _recipes  # noqa: E402,F401
from servelab.cli import results as _results  # noqa: E402,F401
from servelab.cli import tune as _tune  # noqa: E402,F401
from servelab.cli.app import app


def _normalise_json_flag(argv: list[str]) -> list[str]:
    """Let a bare ``--json`` mean stdout: ``--json`` followed by nothing or another option."""
    out: list[str] = []
    for index, arg in enumerate(argv):
        out.append(arg)
        if arg == "--json":
            following = argv[index + 1] if index + 1 < len(argv) else None
            if following is None or (following.startswith("-") and following != "-"):
                out.append("-")
    return out


def main() -> None:
    """Console-script entry point."""
    app(args=_normalise_json_flag(sys.argv[1:]), prog_name="servelab")


__all__ = ["app", "main"]
