"""Weight memory: exact from local files, else parameters × bits of the quantization."""

from __future__ import annotations

import re
from dataclasses import dataclass

from servelab.plan.facts import ModelFacts

# Bits per weight, scales included (e.g. AWQ/GPTQ: 4 bits + an fp16 scale and a 4-bit zero per
# 128 weights; NVFP4: 4 bits + an fp8 scale per 16; MXFP4: + an 8-bit scale per 32).
BITS_PER_WEIGHT: dict[str, float] = {
    "f32": 32,
    "bf16": 16,
    "f16": 16,
    "fp8": 8,
    "int8": 8,
    "w8a8": 8,
    "awq-4bit": 4 + 20 / 128,
    "gptq-4bit": 4 + 20 / 128,
    "int4": 4 + 20 / 128,
    "nvfp4": 4 + 8 / 16,
    "mxfp4": 4 + 8 / 32,
    "q8_0": 8.5,
    "q6_k": 6.5625,
    "q5_k_m": 5.69,
    "q5_0": 5.5,
    "q4_k_m": 4.85,
    "q4_0": 4.5,
}
_ALIASES = {
    "float32": "f32",
    "fp32": "f32",
    "bfloat16": "bf16",
    "float16": "f16",
    "fp16": "f16",
    "fp8_e4m3": "fp8",
    "awq": "awq-4bit",
    "gptq": "gptq-4bit",
    "fp4": "nvfp4",
    "w4a16_nvfp4": "nvfp4",
}
# Checkpoint formats that leave the embeddings (and an untied head) in 16 bits.
_KEEPS_EMBEDDINGS = ("awq", "gptq", "nvfp4", "mxfp4", "fp8", "int4", "int8", "w8a8")


@dataclass(frozen=True)
class Weights:
    """Weight bytes, how they were obtained, and the bits per weight used."""

    bytes: float | None
    formula: str
    bits: float | None


def bits_for(name: str | None) -> float | None:
    """Bits per weight for a quantization or dtype name (``4bit``-style names too)."""
    if not name:
        return None
    key = name.lower().strip()
    key = _ALIASES.get(key, key)
    if key in BITS_PER_WEIGHT:
        return BITS_PER_WEIGHT[key]
    for known in BITS_PER_WEIGHT:
        if known in key:
            return BITS_PER_WEIGHT[known]
    match = re.search(r"(\d+)[-_ ]?bit", key)
    return float(match.group(1)) if match else None


def weight_memory(facts: ModelFacts) -> Weights:
    """Exact bytes when the files are local; otherwise params × bits / 8 (embeddings in 16 bits
    for formats that keep them there)."""
    if facts.weight_bytes is not None:
        return Weights(
            float(facts.weight_bytes),
            f"{facts.sources.get('weight_bytes', 'file tensor sizes')}",
            facts.weight_bits,
        )
    name = facts.quantization or facts.dtype
    bits = facts.weight_bits or bits_for(name)
    label = name if facts.quantization else f"{name}: checkpoint dtype, no quantization stated"
    if facts.total_params is None or bits is None:
        missing = "parameter count" if facts.total_params is None else f"bits of {name!r}"
        return Weights(None, f"unknown ({missing})", bits)
    embed = 0.0
    if name and any(part in name.lower() for part in _KEEPS_EMBEDDINGS):
        embed = float((facts.vocab_size or 0) * (facts.hidden_size or 0))
    total = (facts.total_params - embed) * bits / 8 + embed * 2
    formula = f"params × {bits:.3g} bits / 8 ({label})"
    if embed:
        formula = f"(params − embeddings) × {bits:.3g} bits / 8 + embeddings × 2 B ({label})"
    return Weights(total, formula, bits)
