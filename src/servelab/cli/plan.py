"""`servelab plan`: memory, KV and context fit, and the decode roofline, before any launch."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from servelab.cli.app import JSON_HELP, app, console, emit_json, guarded
from servelab.engines.memory import GIB
from servelab.plan import build_plan


def _gib(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"{value:.2f} GiB" if value >= 0.01 else f"{value:.2f} GiB ({value * GIB:,.0f} B)"


def _fit_text(fit: int | None, possible: int | None) -> str:
    if fit is None:
        return "unknown"
    return f"{fit} (memory allows {possible})" if possible and possible > fit else str(fit)


def _layers_text(model: dict[str, Any]) -> str:
    parts = []
    for group in model["layer_groups"]:
        if group["kind"] in ("full", "sliding"):
            shape = f"{group['kv_heads']} KV heads × {group['head_dim']}"
            window = f", window {group['window']}" if group["kind"] == "sliding" else ""
            parts.append(f"{group['count']} {group['kind']} ({shape}{window})")
        else:
            parts.append(f"{group['count']} {group['kind']}")
    return " + ".join(parts)


def _rows(plan: dict[str, Any]) -> list[tuple[str, str, str]]:
    model, layout, roof, gpu = plan["model"], plan["layout"], plan["roofline"], plan["gpu"]
    fit = plan["max_model_len_fit"]
    tps = plan["roofline_tps"]
    return [
        ("model", model["name"], model["source"]),
        ("layers", _layers_text(model), model["sources"].get("layers", "")),
        ("native context", str(plan["native_context"] or "unknown"), "max_position_embeddings"),
        ("max_model_len", str(plan["max_model_len"]), plan["max_model_len_source"]),
        (
            "KV layout",
            f"{layout['kv_dtype']}, block {layout['block_size']}, "
            f"batched {layout['max_num_batched_tokens']}",
            layout["max_num_batched_tokens_source"],
        ),
        (
            "KV per token",
            f"{plan['kv_bytes_per_token']:,.0f} B",
            "Σ attention layers 2 · kv_heads · head_dim · dtype_bytes",
        ),
        (
            "KV per extra token",
            f"{plan['kv_bytes_per_extra_token']:,.0f} B",
            "full-attention layers only: what each token past the sliding windows adds",
        ),
        (
            "KV needed",
            _gib(plan["kv_needed_gib"]),
            f"Σ full: {layout['full_rule']} + Σ sliding: {layout['sliding_rule']}",
        ),
        ("weights", _gib(plan["weights_gib"]), plan["weights_formula"]),
        ("KV available", _gib(plan["kv_available_gib"]), plan["kv_available_formula"]),
        (
            "largest max_model_len that fits",
            _fit_text(fit, plan["max_model_len_possible"]),
            "binary search: the largest L with needed(L) ≤ available",
        ),
        (
            "GPU",
            f"{gpu['name'] or 'none'}"
            + (f", {gpu['bandwidth_gbs']:g} GB/s" if gpu["bandwidth_gbs"] else ""),
            gpu["source"],
        ),
        (
            "decode roofline",
            "unknown (no bandwidth)" if tps is None else f"{tps:,.0f} t/s",
            f"{roof['formula']}; context {roof['context']}, tokens/step "
            f"{roof['tokens_per_step_formula']}",
        ),
    ]


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
    table = Table(title=f"servelab plan: {plan['recipe']}")
    table.add_column("quantity", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("formula / source", overflow="fold", style="dim")
    for row in _rows(plan):
        table.add_row(*row)
    console.print(table)
    for warning in plan["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
