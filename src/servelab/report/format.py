"""Small text helpers shared by board, compare and recommend."""

from __future__ import annotations

from collections.abc import Sequence

from servelab.records import BenchResult

PASSED, FAILED = "✓", "✗"


def mark(value: bool | None) -> str:
    """✓ / ✗ for a stored check outcome; blank when never checked."""
    if value is None:
        return ""
    return PASSED if value else FAILED


def context_text(tokens: int | None) -> str:
    """131072 → 128K; other sizes as they are; blank when unknown."""
    if tokens is None:
        return ""
    return f"{tokens // 1024}K" if tokens % 1024 == 0 else str(tokens)


def number(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def percent(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value * 100:.{digits}f} %"


def engine_text(bench: BenchResult) -> str:
    """Engine and version as asked from the server (or as published)."""
    prov = bench.provenance
    return " ".join(part for part in (prov.engine, prov.engine_version) if part)


def gpu_text(bench: BenchResult) -> str:
    """GPU names (×count); CPU for a measured bench without GPUs; blank when not published."""
    names = [str(gpu.get("name", "?")) for gpu in bench.provenance.gpu]
    if not names:
        return "" if bench.reported else "CPU"
    counted = {name: names.count(name) for name in names}
    return ", ".join(name if count == 1 else f"{count}× {name}" for name, count in counted.items())


_MARKDOWN_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "\\": "\\\\",
    "|": "\\|",
    "[": "\\[",
    "]": "\\]",
    "`": "\\`",
    "\n": " ",
    "\r": " ",
}


def markdown_cell(value: object) -> str:
    """A cell's text as data: no raw HTML, links, code spans, table breaks or line breaks."""
    return "".join(_MARKDOWN_ESCAPES.get(char, char) for char in str(value))


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table; every cell escaped (stack names are user data)."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(markdown_cell(cell) for cell in cells) + " |"

    out = [line(headers), "|" + "|".join("---" for _ in headers) + "|"]
    out.extend(line(row) for row in rows)
    return "\n".join(out)
