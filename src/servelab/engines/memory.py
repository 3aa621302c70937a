"""How each engine lays out its KV cache and memory: block size, KV dtypes, resolved defaults.

`servelab plan` does the arithmetic; this module holds only what is specific to an engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from servelab.errors import BadInput
from servelab.recipe import Recipe

GIB = 1024**3

# vLLM: `--kv-cache-dtype` values → bytes per element ("auto" follows the model dtype).
_VLLM_KV_BYTES = {
    "fp8": 1.0,
    "fp8_e4m3": 1.0,
    "fp8_e5m2": 1.0,
    "fp8_inc": 1.0,
    "bfloat16": 2.0,
    "bf16": 2.0,
    "float16": 2.0,
    "fp16": 2.0,
    "half": 2.0,
}
# llama.cpp: `-ctk/-ctv` cache types → bytes per element (block formats: bytes per 32 values).
_LLAMACPP_KV_BYTES = {
    "f32": 4.0,
    "f16": 2.0,
    "bf16": 2.0,
    "q8_0": 34 / 32,
    "q4_0": 18 / 32,
    "q4_1": 20 / 32,
    "iq4_nl": 18 / 32,
    "q5_0": 22 / 32,
    "q5_1": 24 / 32,
}
_MODEL_DTYPE_BYTES = {"f32": 4.0, "bf16": 2.0, "f16": 2.0}

VLLM_BLOCK_SIZE = 16
# vLLM 0.20.2 logged `max_num_batched_tokens=8192` on an H100; the post's 3.38 GiB (24 GB card)
# implies the same value there.
VLLM_RESOLVED_BATCHED_TOKENS = 8192
VLLM_DEFAULT_GPU_UTIL = 0.9
# Measured with vLLM 0.20.2 on an H100 (1B model): memory × utilization − weights − the logged
# "Available KV cache memory" ≈ 0.75 GiB (non-torch memory, activation peak, CUDA graphs).
VLLM_OVERHEAD_GIB = 0.75
LLAMACPP_UBATCH = 512
LLAMACPP_OVERHEAD_GIB = 0.5


@dataclass(frozen=True)
class KVLayout:
    """What an engine allocates per attention layer for a served length."""

    engine: str
    block_size: int
    batched_tokens: int
    batched_tokens_source: str
    kv_dtype: str
    dtype_bytes: float
    sequences: int
    default_gpu_util: float
    overhead_gib: float
    overhead_note: str
    full_rule: str
    sliding_rule: str

    def full_tokens(self, length: int) -> int:
        """Token slots a full-attention layer holds for ``length``."""
        if self.engine == "vllm":
            return math.ceil(length / self.block_size) * self.block_size
        return length * self.sequences

    def sliding_tokens(self, length: int, window: int) -> int:
        """Token slots a sliding-window layer holds for ``length``."""
        if self.engine == "vllm":
            held = min(window - 1 + self.batched_tokens, length)
            return (math.ceil(held / self.block_size) + 1) * self.block_size
        context = length * self.sequences
        return min(window * self.sequences + self.batched_tokens, context)


def _flag_value(args: list[str], flag: str) -> str | None:
    """The value of ``flag`` in verbatim extra args (``--f v`` or ``--f=v``)."""
    for index, arg in enumerate(args):
        if arg == flag and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def _int_flag(recipe: Recipe, flag: str) -> int | None:
    value = _flag_value(recipe.extra_args, flag)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise BadInput(f"{recipe.name}: extra_args {flag} {value!r} is not an integer") from None


def kv_layout(recipe: Recipe, model_dtype: str | None) -> KVLayout:
    """The KV layout the recipe's engine will use (``model_dtype``: bf16, f16, f32 or None)."""
    if recipe.engine.name == "vllm":
        return _vllm_layout(recipe, model_dtype)
    return _llamacpp_layout(recipe)


def _vllm_layout(recipe: Recipe, model_dtype: str | None) -> KVLayout:
    requested = recipe.context.kv_cache_dtype or _flag_value(recipe.extra_args, "--kv-cache-dtype")
    requested = (requested or "auto").lower()
    if requested == "auto":
        # vLLM serves float32 checkpoints in 16 bits unless --dtype says otherwise.
        dtype = "bf16" if model_dtype in (None, "f32") else model_dtype
        dtype_bytes = _MODEL_DTYPE_BYTES.get(dtype, 2.0)
        kv_dtype = f"auto ({dtype})"
    elif requested in _VLLM_KV_BYTES:
        kv_dtype, dtype_bytes = requested, _VLLM_KV_BYTES[requested]
    else:
        known = ", ".join(["auto", *_VLLM_KV_BYTES])
        raise BadInput(
            f"{recipe.name}: context.kv_cache_dtype {requested!r} is not a vLLM KV dtype "
            f"(expected one of {known})"
        )
    batched = recipe.limits.max_num_batched_tokens or _int_flag(recipe, "--max-num-batched-tokens")
    source = "recipe" if batched else "vLLM's resolved default (8192, logged by 0.20.2)"
    return KVLayout(
        engine="vllm",
        block_size=_int_flag(recipe, "--block-size") or VLLM_BLOCK_SIZE,
        batched_tokens=batched or VLLM_RESOLVED_BATCHED_TOKENS,
        batched_tokens_source=source,
        kv_dtype=kv_dtype,
        dtype_bytes=dtype_bytes,
        sequences=1,
        default_gpu_util=VLLM_DEFAULT_GPU_UTIL,
        overhead_gib=VLLM_OVERHEAD_GIB,
        overhead_note="non-torch memory, activation peak and CUDA graphs: 0.75 GiB measured with "
        "vLLM 0.20.2 on an H100 with a 1B model; larger models and vision encoders need more",
        full_rule="ceil(L / block) · page",
        sliding_rule="(ceil(min(window − 1 + max_num_batched_tokens, L) / block) + 1) · page",
    )


def _llamacpp_layout(recipe: Recipe) -> KVLayout:
    requested = (recipe.context.kv_cache_dtype or "f16").lower()
    if requested == "auto":
        requested = "f16"
    if requested not in _LLAMACPP_KV_BYTES:
        known = ", ".join(_LLAMACPP_KV_BYTES)
        raise BadInput(
            f"{recipe.name}: context.kv_cache_dtype {requested!r} is not a llama.cpp cache type "
            f"(expected one of {known})"
        )
    slots = recipe.runtime.parallel_slots or recipe.limits.max_num_seqs or 1
    return KVLayout(
        engine="llamacpp",
        block_size=1,
        batched_tokens=LLAMACPP_UBATCH,
        batched_tokens_source="llama.cpp's default physical batch (-ub 512)",
        kv_dtype=requested,
        dtype_bytes=_LLAMACPP_KV_BYTES[requested],
        sequences=slots,
        default_gpu_util=1.0,
        overhead_gib=LLAMACPP_OVERHEAD_GIB,
        overhead_note="compute buffers, estimated at 0.5 GiB",
        full_rule="L · slots tokens (-c is shared by the slots)",
        sliding_rule="min(window · slots + ubatch, L · slots) tokens",
    )
