"""KV-cache math against vLLM's own numbers (the post's Gemma 4 run, the 1B stand-in on an H100)."""

from __future__ import annotations

import pytest

from servelab.engines.memory import GIB, kv_layout
from servelab.plan import kv
from servelab.plan.bundled import lookup
from servelab.plan.facts import Layer
from servelab.recipe import ModelRef, load_recipe, recipe_from_text

STANDIN_LAYERS = [Layer("full", 8, 128)] * 16


def gemma():
    recipe = load_recipe("gemma4-26b-a4b-vision-mtp")
    facts = lookup(recipe.model)
    assert facts is not None
    return facts.layers, kv_layout(recipe, facts.dtype)


def vllm_layout(extra: str = ""):
    recipe = recipe_from_text(
        f"name: t\nengine: {{name: vllm}}\nmodel: {{id: x/y}}\n{extra}", "test"
    )
    return kv_layout(recipe, "bf16")


def test_gemma4_layout_is_25_sliding_and_5_full():
    layers, layout = gemma()
    assert layers.count(Layer("sliding", 8, 256, 1024)) == 25
    assert layers.count(Layer("full", 2, 512)) == 5
    assert (layout.block_size, layout.batched_tokens, layout.dtype_bytes) == (16, 8192, 1.0)


def test_gemma4_262144_needs_3_38_gib():
    layers, layout = gemma()
    needed = kv.needed_bytes(layers, 262144, layout)
    # 5 full layers: 16384 pages of 32 KiB; 25 sliding: 577 pages of 64 KiB.
    assert needed == 5 * 16384 * 32768 + 25 * 577 * 65536
    assert f"{needed / GIB:.2f}" == "3.38"


def test_gemma4_golden_lengths_around_the_post_estimate():
    layers, layout = gemma()
    assert round(kv.needed_bytes(layers, 203584, layout) / GIB, 5) == 2.82196
    assert round(kv.needed_bytes(layers, 203616, layout) / GIB, 5) == 2.82227
    assert kv.max_fit(layers, layout, 2.8221 * GIB, 262144) == 203584
    # vLLM printed "2.82 GiB": the exact figure lies above 2.82 (2.82 itself fits less).
    assert kv.max_fit(layers, layout, 2.82 * GIB, 262144) < 203584


def test_standin_needs_half_a_gib_at_8192():
    layout = vllm_layout()
    assert kv.needed_bytes(STANDIN_LAYERS, 8192, layout) == GIB // 2


@pytest.mark.parametrize(("available_gib", "fit"), [(0.2465, 4032), (0.25, 4096), (0.2461, 4032)])
def test_standin_fit_has_block_granularity(available_gib, fit):
    layout = vllm_layout()
    assert kv.max_fit(STANDIN_LAYERS, layout, available_gib * GIB, 8192) == fit
    assert fit % layout.block_size == 0


def test_fit_is_capped_by_the_requested_length_and_zero_when_nothing_fits():
    layout = vllm_layout()
    assert kv.max_fit(STANDIN_LAYERS, layout, 10 * GIB, 8192) == 8192
    assert kv.max_fit(STANDIN_LAYERS, layout, 1000, 8192) == 0


def test_sliding_layers_stop_growing_past_the_window():
    layout = vllm_layout()
    sliding = [Layer("sliding", 8, 256, 1024)]
    at_10k = kv.needed_bytes(sliding, 10_000, layout)
    assert kv.needed_bytes(sliding, 1_000_000, layout) == at_10k
    # Short contexts hold only what they use (+1 block).
    assert kv.needed_bytes(sliding, 16, layout) == 2 * 16 * 2 * 8 * 256 * 2


def test_resolved_batched_tokens_move_the_sliding_term():
    small = vllm_layout("limits: {max_num_batched_tokens: 2048}\n")
    assert small.batched_tokens == 2048 and small.batched_tokens_source == "recipe"
    sliding = [Layer("sliding", 8, 256, 1024)]
    pages = -(-(1023 + 2048) // 16) + 1
    assert kv.needed_bytes(sliding, 262144, small) == pages * 16 * 2 * 8 * 256 * 2


def test_extra_args_block_size_and_kv_dtype_are_honoured():
    layout = vllm_layout("extra_args: [--block-size, '32', --kv-cache-dtype=fp8]\n")
    assert (layout.block_size, layout.dtype_bytes) == (32, 1.0)


def test_llamacpp_layout_counts_slots_and_cache_type():
    recipe = load_recipe("local-stories260k")
    layout = kv_layout(recipe, "f32")
    assert (layout.engine, layout.sequences, layout.kv_dtype, layout.dtype_bytes) == (
        "llamacpp",
        4,
        "f16",
        2.0,
    )
    layers = [Layer("full", 4, 8)] * 5
    # -c = 1024 × 4 slots; 5 layers × 2 × 4 heads × 8 dims × 2 bytes per token.
    assert kv.needed_bytes(layers, 1024, layout) == 4096 * 640


def test_unknown_kv_dtype_is_bad_input():
    from servelab.errors import BadInput

    recipe = recipe_from_text(
        "name: t\nengine: {name: vllm}\nmodel: {id: x/y}\ncontext: {kv_cache_dtype: int3}\n", "t"
    )
    with pytest.raises(BadInput, match="kv_cache_dtype 'int3' is not a vLLM KV dtype"):
        kv_layout(recipe, "bf16")


def test_tensor_parallel_splits_heads_and_pipeline_splits_layers():
    stages = kv.shard(STANDIN_LAYERS, tensor=2, pipeline=2)
    assert [len(stage) for stage in stages] == [8, 8]
    assert stages[0][0].kv_heads == 4
    # Fewer KV heads than ranks: heads are replicated, not split below one.
    assert kv.shard([Layer("full", 2, 512)], tensor=4, pipeline=1)[0][0].kv_heads == 1


def test_read_bytes_caps_sliding_layers_at_the_window():
    layers = [Layer("full", 2, 512), Layer("sliding", 8, 256, 1024)]
    per_full, per_sliding = 2 * 2 * 512, 2 * 8 * 256
    assert kv.read_bytes(layers, 4096, 1.0) == 4096 * per_full + 1024 * per_sliding
    assert kv.read_bytes(layers, 100, 1.0) == 100 * (per_full + per_sliding)


def test_bundled_lookup_matches_the_post_models_only():
    assert lookup(ModelRef(id="cyankiwi/gemma-4-26B-A4B-it-AWQ-4bit")).native_context == 131072
    assert lookup(ModelRef(id="Qwen3.6-35B-A3B-MTP.gguf")).experts == 256
    assert lookup(ModelRef(id="Qwen3.6-27B.gguf")).experts is None
    assert lookup(ModelRef(id="some-org/other-model")) is None
