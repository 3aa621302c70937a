"""servelab's command line: one module per group of commands, all on one typer app."""

from __future__ import annotations

import sys

# Each module registers its commands on `app` when imported.
from servelab.cli import artefacts as _artefacts  # noqa: E402,F401
from servelab.cli import bench as _bench  # noqa: E402,F401
from servelab.cli import board as _board  # noqa: E402,F401
from servelab.cli import check as _check  # noqa: E402,F401
from servelab.cli import demo as _demo  # noqa: E402,F401
from servelab.cli import engine as _engine  # noqa: E402,F401
from servelab.cli import forget as _forget  # noqa: E402,F401
from servelab.cli import imports as _imports  # noqa: E402,F401
from servelab.cli import plan as _plan  # noqa: E402,F401
from servelab.cli import recipes as _recipes  # noqa: E402,F401
from servelab.cli import runs as _runs  # noqa: E402,F401
from servelab.cli import tune as _tune  # noqa: E402,F401
from servelab.cli.app import app, people_to_stderr

# Options whose value may be left out, and what a bare one means.
BARE_VALUES = {"--json": "-", "--csv": "-", "--resume": "last"}


def _normalise_bare_options(argv: list[str]) -> list[str]:
    """A bare ``--json`` means stdout and a bare ``--resume`` the last tune: the option
    followed by nothing or by another option gets its default value."""
    out: list[str] = []
    for index, arg in enumerate(argv):
        out.append(arg)
        if arg in BARE_VALUES:
            following = argv[index + 1] if index + 1 < len(argv) else None
            if following is None or (following.startswith("-") and following != "-"):
                out.append(BARE_VALUES[arg])
    return out


def _json_to_stdout(argv: list[str]) -> bool:
    return any(
        arg == "--json=-" or (arg == "--json" and argv[i + 1 : i + 2] == ["-"])
        for i, arg in enumerate(argv)
    )


def main() -> None:
    """Console-script entry point."""
    argv = _normalise_bare_options(sys.argv[1:])
    if _json_to_stdout(argv):
        people_to_stderr()
    app(args=argv, prog_name="servelab")


__all__ = ["app", "main"]
