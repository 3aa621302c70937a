"""Export a recipe as something another system runs: compose, Kubernetes, Helm, Olares, a Job."""

from __future__ import annotations

from pathlib import Path

from servelab.errors import BadInput
from servelab.export.bench_job import render_job
from servelab.export.compose import render_compose
from servelab.export.container import app_name, container_spec
from servelab.export.helm import chart_files
from servelab.export.kubernetes import render_k8s
from servelab.export.olares import olares_files, olares_name
from servelab.export.options import ExportOptions
from servelab.export.sizing import sizing_for
from servelab.recipe import Recipe

SINGLE_FILE = {"compose": render_compose, "k8s": render_k8s, "job": render_job}
CHARTS = {"helm": chart_files, "olares": olares_files}
FORMATS = (*SINGLE_FILE, *CHARTS)


def _options(recipe: Recipe, opts: dict[str, object]) -> ExportOptions:
    try:
        options = ExportOptions(**opts)  # type: ignore[arg-type]
    except TypeError as exc:
        raise BadInput(f"export: {exc}") from None
    sizing = sizing_for(recipe, container_spec(recipe).gpus)
    options.sizing = sizing
    if options.cache_size is None:
        options.cache_size = sizing.cache_size
    return options


def _check(fmt: str) -> None:
    if fmt not in FORMATS:
        raise BadInput(f"unknown format {fmt!r} (expected {', '.join(FORMATS)})", field="format")


def export_files(recipe: Recipe, fmt: str, **opts: object) -> dict[str, str]:
    """Relative path → text of everything the format consists of."""
    _check(fmt)
    options = _options(recipe, opts)
    if fmt in CHARTS:
        folder = olares_name(recipe) if fmt == "olares" else app_name(recipe)
        files = CHARTS[fmt](recipe, options)
        return {f"{folder}/{path}": text for path, text in files.items()}
    name = "compose.yaml" if fmt == "compose" else f"{app_name(recipe)}-{fmt}.yaml"
    return {name: SINGLE_FILE[fmt](recipe, options)}


def render_export(recipe: Recipe, fmt: str, **opts: object) -> str:
    """One text for `show --format F`: the file itself, or a chart's files one after another."""
    files = export_files(recipe, fmt, **opts)
    if len(files) == 1 and fmt in SINGLE_FILE:
        return next(iter(files.values()))
    return "".join(f"# ===== {path} =====\n{text}" for path, text in files.items())


def write_export(recipe: Recipe, fmt: str, out: Path, **opts: object) -> list[Path]:
    """Write the format's files under ``out``; returns their paths."""
    written: list[Path] = []
    for relative, text in export_files(recipe, fmt, **opts).items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


__all__ = ["FORMATS", "ExportOptions", "export_files", "render_export", "write_export"]
