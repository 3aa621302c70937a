"""`servelab plan`: memory, KV and context fit, and the decode roofline, before any launch."""

from __future__ import annotations

import typer

from servelab.cli.app import JSON_HELP, app, console, emit_json, guarded
from servelab.plan import build_plan
from servelab.render.plan import render_plan


@app.command("plan")
@guarded
def plan_command(
    recipe: str = typer.Argument(..., help="Bundled recipe name or a recipe YAML file."),
    gpu: str = typer.Option(None, "--gpu", help="GPU name (e.g. h100, 'rtx 5090 laptop')."),
    gpu_mem: float = typer.Option(None, "--gpu-mem", help="GPU memory in GiB."),
    gpu_util: float = typer.Option(None, "--gpu-util", help="GPU memory utilization (0–1)."),
    kv_available: float = typer.Option(
        None, "--kv-available", help="KV cache memory available per GPU, GiB (skips the estimate)."
    ),
    max_model_len: int = typer.Option(None, "--max-model-len", help="Context length to plan."),
    acceptance: float = typer.Option(
        None, "--acceptance", help="Speculative acceptance rate α: tokens/step = 1 + α·k."
    ),
    bandwidth: float = typer.Option(None, "--bandwidth", help="Memory bandwidth in GB/s."),
    json_out: str = typer.Option(None, "--json", help=JSON_HELP),
) -> None:
    """Memory, KV-cache and context fit, and the decode roofline of a recipe (no GPU needed)."""
    plan = build_plan(
        recipe,
        gpu=gpu,
        gpu_mem_gib=gpu_mem,
        gpu_util=gpu_util,
        kv_available_gib=kv_available,
        max_model_len=max_model_len,
        acceptance=acceptance,
        bandwidth_gbs=bandwidth,
    )
    if json_out is not None:
        emit_json(plan, json_out)
        if json_out in ("", "-"):
            return
    render_plan(plan, console)
