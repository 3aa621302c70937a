"""Assemble a plan: model facts → weights, KV needed and available, context fit, roofline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from servelab.engines.memory import GIB, KVLayout, kv_layout
from servelab.errors import BadInput
from servelab.gpu import detect_gpus
from servelab.plan import kv
from servelab.plan.facts import Layer, ModelFacts, model_facts
from servelab.plan.gpus import gpu_by_name, match_gpu
from servelab.plan.roofline import decode_ceiling, tokens_per_step
from servelab.plan.weights import weight_memory
from servelab.recipe import Recipe, load_recipe


@dataclass(frozen=True)
class _Gpu:
    """The card planned for: memory and bandwidth, with where each came from."""

    name: str | None
    memory_gib: float | None
    bandwidth_gbs: float | None
    source: str


def _choose_gpu(name: str | None, memory_gib: float | None, bandwidth_gbs: float | None) -> _Gpu:
    """--gpu from the table, else the first GPU NVML reports; --gpu-mem/--bandwidth override."""
    detected = None if name else next(iter(detect_gpus()), None)
    if name:
        spec = gpu_by_name(name)
        label, source = spec.name, "--gpu (servelab's GPU table)"
    elif detected is not None:
        spec = match_gpu(detected["name"])
        label = detected["name"] + (f" (table: {spec.key})" if spec else " (not in the table)")
        source = "NVML"
    else:
        spec, label, source = None, None, "none (no --gpu, NVML finds no GPU)"
    table_memory = spec.memory_gib if spec else None
    return _Gpu(
        name=label,
        memory_gib=memory_gib or (detected or {}).get("memory_gib") or table_memory,
        bandwidth_gbs=bandwidth_gbs or (spec.bandwidth_gbs if spec else None),
        source=source
        + ("; --gpu-mem" if memory_gib else "")
        + ("; --bandwidth" if bandwidth_gbs else ""),
    )


def _length(recipe: Recipe, facts: ModelFacts, requested: int | None) -> tuple[int, str]:
    if requested is not None:
        if requested < 1:
            raise BadInput(
                "expected a positive number of tokens", field="max_model_len", value=requested
            )
        return requested, "requested"
    if recipe.context.max_model_len:
        return recipe.context.max_model_len, "recipe context.max_model_len"
    if facts.native_context:
        return facts.native_context, "the model's native context (engine default)"
    raise BadInput(
        f"{recipe.name}: no max_model_len (set context.max_model_len or pass {{max_model_len}}; "
        "the model's native context is unknown)",
        mentions=["max_model_len"],
    )


def _gib(value: float | None) -> float | None:
    return None if value is None else value / GIB


def _layout_json(layout: KVLayout) -> dict[str, Any]:
    return {
        "engine": layout.engine,
        "block_size": layout.block_size,
        "max_num_batched_tokens": layout.batched_tokens,
        "max_num_batched_tokens_source": layout.batched_tokens_source,
        "kv_dtype": layout.kv_dtype,
        "dtype_bytes": layout.dtype_bytes,
        "sequences": layout.sequences,
        "full_rule": layout.full_rule,
        "sliding_rule": layout.sliding_rule,
    }


def build_plan(
    recipe: Recipe | str,
    *,
    gpu: str | None = None,
    gpu_mem_gib: float | None = None,
    gpu_util: float | None = None,
    kv_available_gib: float | None = None,
    max_model_len: int | None = None,
    acceptance: float | None = None,
    bandwidth_gbs: float | None = None,
    roofline_context: int | None = None,
) -> dict[str, Any]:
    """Memory, KV and context fit, and the decode roofline of a recipe, as plain data.

    Per-GPU figures (KV needed/available, fit) are what each card holds under the recipe's
    tensor/pipeline parallelism, as the engine reports them.
    """
    if isinstance(recipe, str):
        recipe = load_recipe(recipe)
    facts = model_facts(recipe)
    layout = kv_layout(recipe, facts.dtype)
    length, length_source = _length(recipe, facts, max_model_len)
    weights = weight_memory(facts)
    card = _choose_gpu(gpu, gpu_mem_gib, bandwidth_gbs)
    util = _utilization(gpu_util, recipe, layout)
    tp, pp = recipe.parallel.tensor, recipe.parallel.pipeline
    stages = kv.shard(facts.layers, tp, pp)
    needed = max(kv.needed_bytes(stage, length, layout) for stage in stages)
    weights_per_gpu = None if weights.bytes is None else weights.bytes / (tp * pp)
    warnings: list[str] = []
    available, available_formula = _available(
        kv_available_gib, card, util, weights_per_gpu, layout, warnings
    )
    fit, possible, fits = _fit(stages, layout, available, needed, length, warnings)
    warnings += _model_warnings(recipe, facts, length)
    roof = _roofline(recipe, facts, weights.bytes, layout, card, acceptance, roofline_context)
    return {
        "recipe": recipe.name,
        "engine": recipe.engine.name,
        "max_model_len": length,
        "max_model_len_source": length_source,
        "weights_gib": _gib(weights.bytes),
        "weights_formula": weights.formula,
        "weights_per_gpu_gib": _gib(weights_per_gpu),
        **_per_token(facts, layout),
        "kv_needed_bytes": needed,
        "kv_needed_gib": needed / GIB,
        "kv_available_gib": _gib(available),
        "kv_available_formula": available_formula,
        "max_model_len_fit": fit,
        "max_model_len_possible": possible if possible != kv.SEARCH_LIMIT else None,
        "fits": fits,
        "native_context": facts.native_context,
        "gpu": {**_gpu_json(card), "utilization": util, "source": card.source},
        "parallel": {"tensor": tp, "pipeline": pp, "gpus": tp * pp},
        "layout": _layout_json(layout),
        **roof,
        "model": facts.to_json(),
        "warnings": warnings,
    }


def _utilization(given: float | None, recipe: Recipe, layout: KVLayout) -> float:
    util = given or recipe.limits.gpu_memory_utilization or layout.default_gpu_util
    if not 0 < util <= 1:
        raise BadInput("expected a fraction in (0, 1]", field="gpu_util", value=util)
    return util


def _per_token(facts: ModelFacts, layout: KVLayout) -> dict[str, float]:
    """KV bytes per token (all attention layers) and per token past the sliding windows."""
    return {
        "kv_bytes_per_token": kv.bytes_per_token(
            facts.layers, layout.dtype_bytes, ("full", "sliding")
        ),
        "kv_bytes_per_extra_token": kv.bytes_per_token(facts.layers, layout.dtype_bytes, ("full",)),
    }


def _gpu_json(card: _Gpu) -> dict[str, Any]:
    return {"name": card.name, "memory_gib": card.memory_gib, "bandwidth_gbs": card.bandwidth_gbs}


def _fit(
    stages: list[list[Layer]],
    layout: KVLayout,
    available: float | None,
    needed: float,
    length: int,
    warnings: list[str],
) -> tuple[int | None, int | None, bool | None]:
    """(largest length that fits, the most memory allows, whether ``length`` fits)."""
    if available is None:
        return None, None, None
    fit = min(kv.max_fit(stage, layout, available, length) for stage in stages)
    possible = min(kv.max_fit(stage, layout, available, kv.SEARCH_LIMIT) for stage in stages)
    fits = needed <= available
    if not fits:
        warnings.append(
            f"max_model_len {length} needs {needed / GIB:.2f} GiB of KV per GPU but "
            f"{available / GIB:.2f} GiB is available: the largest length that fits is {fit}"
        )
    return fit, possible, fits


def _model_warnings(recipe: Recipe, facts: ModelFacts, length: int) -> list[str]:
    warnings = []
    if facts.native_context and length > facts.native_context:
        warnings.append(
            f"max_model_len {length} exceeds the native context {facts.native_context}: the "
            "engine scales RoPE past it and quality (long-range recall) drops"
        )
    if facts.unconfirmed:
        warnings.append(f"unconfirmed model facts: {', '.join(facts.unconfirmed)}")
    if recipe.speculative is not None and recipe.speculative.model is not None:
        warnings.append("the draft model's weights and KV are not counted")
    return warnings


def _available(
    given_gib: float | None,
    card: _Gpu,
    util: float,
    weights_per_gpu: float | None,
    layout: KVLayout,
    warnings: list[str],
) -> tuple[float | None, str]:
    """KV bytes available per GPU and the formula that gave them."""
    if given_gib is not None:
        if given_gib < 0:
            raise BadInput("expected GiB ≥ 0", field="kv_available", value=given_gib)
        return given_gib * GIB, "--kv-available"
    if card.memory_gib is None:
        return None, "unknown: no GPU memory (pass --gpu NAME, --gpu-mem GIB or --kv-available)"
    if weights_per_gpu is None:
        return None, "unknown: weight size unknown (pass --kv-available)"
    available = card.memory_gib * GIB * util - weights_per_gpu - layout.overhead_gib * GIB
    formula = (
        f"GPU memory × utilization − weights − overhead = {card.memory_gib:.2f} × {util:g} − "
        f"{weights_per_gpu / GIB:.2f} − {layout.overhead_gib:.2f} GiB "
        f"(overhead: {layout.overhead_note})"
    )
    if available <= 0:
        warnings.append("weights and overhead exceed GPU memory × utilization: no room for KV")
        available = 0.0
    return available, formula


def _roofline(
    recipe: Recipe,
    facts: ModelFacts,
    weight_bytes: float | None,
    layout: KVLayout,
    card: _Gpu,
    acceptance: float | None,
    context: int | None,
) -> dict[str, Any]:
    """Decode ceiling for one stream; tensor parallelism adds its ranks' bandwidth."""
    steps, steps_formula = tokens_per_step(recipe, acceptance)
    context = context or max(1, recipe.bench.tokens // 2)
    share = 1.0
    if facts.active_params and facts.total_params:
        share = min(1.0, facts.active_params / facts.total_params)
    active = None if weight_bytes is None else weight_bytes * share
    kv_read = kv.read_bytes(facts.layers, context, layout.dtype_bytes)
    per_step = None if active is None else active + kv_read
    bandwidth = None if card.bandwidth_gbs is None else card.bandwidth_gbs * recipe.parallel.tensor
    tps = None
    if per_step and bandwidth:
        tps = decode_ceiling(bandwidth, per_step, steps)
    return {
        "roofline_tps": tps,
        "roofline": {
            "bandwidth_gbs": bandwidth,
            "active_weight_bytes": active,
            "active_share": share,
            "kv_read_bytes": kv_read,
            "context": context,
            "bytes_per_step": per_step,
            "tokens_per_step": steps,
            "tokens_per_step_formula": steps_formula,
            "formula": "bandwidth / (active weight bytes + KV bytes read) × tokens per step",
        },
    }
