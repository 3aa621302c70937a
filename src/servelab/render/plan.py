"""A plan on the console: one row per quantity with its value and the formula or source."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from servelab.engines.memory import GIB


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


def plan_rows(plan: dict[str, Any]) -> list[tuple[str, str, str]]:
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


def render_plan(plan: dict[str, Any], console: Console) -> None:
    """The plan's table, then its warnings."""
    table = Table(title=f"servelab plan: {plan['recipe']}")
    table.add_column("quantity", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("formula / source", overflow="fold", style="dim")
    for row in plan_rows(plan):
        table.add_row(*row)
    console.print(table)
    for warning in plan["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
