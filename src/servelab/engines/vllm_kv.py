"""vLLM's KV cache: paged blocks, `--kv-cache-dtype` values, resolved defaults (for `plan`)."""

from __future__ import annotations

from servelab.engines.memory import MODEL_DTYPE_BYTES, KVLayout, flag_value, int_flag
from servelab.errors import BadInput
from servelab.recipe import Recipe

# `--kv-cache-dtype` values → bytes per element ("auto" follows the model dtype).
KV_BYTES = {
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
BLOCK_SIZE = 16
# vLLM 0.20.2 logged `max_num_batched_tokens=8192` on an H100; the post's 3.38 GiB (24 GB card)
# implies the same value there.
RESOLVED_BATCHED_TOKENS = 8192
DEFAULT_GPU_UTIL = 0.9
# Measured with vLLM 0.20.2 on an H100 (1B model): memory × utilization − weights − the logged
# "Available KV cache memory" ≈ 0.75 GiB (non-torch memory, activation peak, CUDA graphs).
OVERHEAD_GIB = 0.75


def _kv_dtype(recipe: Recipe, model_dtype: str | None) -> tuple[str, float]:
    requested = recipe.context.kv_cache_dtype or flag_value(recipe.extra_args, "--kv-cache-dtype")
    requested = (requested or "auto").lower()
    if requested == "auto":
        # vLLM serves float32 checkpoints in 16 bits unless --dtype says otherwise.
        dtype = "bf16" if model_dtype in (None, "f32") else model_dtype
        return f"auto ({dtype})", MODEL_DTYPE_BYTES.get(dtype, 2.0)
    if requested in KV_BYTES:
        return requested, KV_BYTES[requested]
    known = ", ".join(["auto", *KV_BYTES])
    raise BadInput(
        f"{recipe.name}: context.kv_cache_dtype {requested!r} is not a vLLM KV dtype "
        f"(expected one of {known})"
    )


def kv_layout(recipe: Recipe, model_dtype: str | None) -> KVLayout:
    """The paged layout vLLM allocates for the recipe."""
    kv_dtype, dtype_bytes = _kv_dtype(recipe, model_dtype)
    batched = recipe.limits.max_num_batched_tokens or int_flag(
        recipe.name, recipe.extra_args, "--max-num-batched-tokens"
    )
    source = "recipe" if batched else "vLLM's resolved default (8192, logged by 0.20.2)"
    return KVLayout(
        engine="vllm",
        paged=True,
        block_size=int_flag(recipe.name, recipe.extra_args, "--block-size") or BLOCK_SIZE,
        batched_tokens=batched or RESOLVED_BATCHED_TOKENS,
        batched_tokens_source=source,
        kv_dtype=kv_dtype,
        dtype_bytes=dtype_bytes,
        sequences=1,
        default_gpu_util=DEFAULT_GPU_UTIL,
        overhead_gib=OVERHEAD_GIB,
        overhead_note="non-torch memory, activation peak and CUDA graphs: 0.75 GiB measured with "
        "vLLM 0.20.2 on an H100 with a 1B model; larger models and vision encoders need more",
        full_rule="ceil(L / block) · page",
        sliding_rule="(ceil(min(window − 1 + max_num_batched_tokens, L) / block) + 1) · page",
    )
