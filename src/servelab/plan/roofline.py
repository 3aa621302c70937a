"""Decode roofline: memory bandwidth / bytes read per step × tokens per step.

Assumptions (stated with every number): a decode step at batch 1 reads the active weights once
(MoE: total weights × active/total params) plus the KV of the context; verifying k drafted
tokens costs one step that yields ``1 + α·k`` tokens (the post's estimate, α = acceptance);
draft-model reads, activations and kernel overheads are ignored, so the ceiling is optimistic.
"""

from __future__ import annotations

from typing import Any

from servelab.errors import BadInput
from servelab.recipe import Recipe


def tokens_per_step(recipe: Recipe, acceptance: float | None) -> tuple[float, str]:
    """(tokens per step, formula): 1 without speculation, else 1 + α·k when α is given."""
    spec = recipe.speculative
    if acceptance is not None and not 0 <= acceptance <= 1:
        raise BadInput("expected a rate between 0 and 1", field="acceptance", value=acceptance)
    if spec is None:
        return 1.0, "1 (no speculation)"
    if acceptance is None:
        return 1.0, "1 (speculation on, no --acceptance given)"
    k = spec.num_speculative_tokens
    if k is None:
        return 1.0, "1 (speculative.num_speculative_tokens unset: k unknown)"
    return 1 + acceptance * k, f"1 + α·k = 1 + {acceptance:g} × {k}"


def decode_ceiling(
    bandwidth_gbs: float, bytes_per_step: float, tokens_per_step: float = 1.0
) -> float:
    """Decode t/s ceiling = bandwidth / bytes read per step × tokens per step."""
    if bytes_per_step <= 0:
        raise BadInput("roofline: bytes read per step must be positive")
    return bandwidth_gbs * 1e9 / bytes_per_step * tokens_per_step


def achieved_fraction(decode_tps: float, plan: dict[str, Any]) -> float:
    """Measured decode t/s as a fraction of the plan's roofline (``build_plan``'s result)."""
    ceiling = plan.get("roofline_tps")
    if not ceiling:
        raise BadInput(
            "no roofline in this plan: the GPU's memory bandwidth is unknown (pass {gpu} NAME)",
            mentions=["gpu"],
        )
    return decode_tps / ceiling
