"""Model facts from real files: stories260k's GGUF and HF folder, the stand-in's config.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from servelab.errors import BadInput
from servelab.plan.facts import Layer, model_facts, native_context
from servelab.plan.gguf_meta import facts_from_gguf
from servelab.plan.hf_config import facts_from_config
from servelab.plan.readers import read_hf_folder, read_local
from servelab.plan.weights import bits_for, weight_memory
from servelab.recipe import load_recipe, recipe_from_text
from tests.support import DATA, models_root

STORIES = models_root() / "stories260k"


def recipe_for(model_id: str, engine: str = "vllm", extra: str = ""):
    return recipe_from_text(
        f"name: t\nengine: {{name: {engine}}}\nmodel: {{id: '{model_id}'}}\n{extra}", "test"
    )


def test_stories_gguf_and_hf_folder_agree():
    gguf = facts_from_gguf(STORIES / "stories260k.gguf")
    hf = read_hf_folder(STORIES / "hf")
    assert gguf.layers == hf.layers == [Layer("full", 4, 8)] * 5
    for key in ("hidden_size", "vocab_size", "native_context", "total_params", "weight_bytes"):
        assert getattr(gguf, key) == getattr(hf, key), key
    assert gguf.native_context == 512
    assert gguf.total_params == 260032
    assert gguf.weight_bytes == 1040128 and gguf.weight_bits == 32
    assert gguf.dtype == hf.dtype == "f32"


def test_recipe_model_resolves_through_servelab_models():
    facts = model_facts(load_recipe("local-stories260k"))
    assert facts.source == "GGUF stories260k.gguf"
    assert facts.quantization == "f32"


def test_standin_config_gives_the_1b_shapes():
    facts = read_local(DATA / "standin-1b")
    assert facts.layers == [Layer("full", 8, 128)] * 16
    assert facts.dtype == "bf16" and facts.native_context == 8192
    # 16 × (attention 12.6M + MLP 50.3M) + tied 512 × 2048 embedding ≈ 1.0 B (standin_models.py)
    assert facts.total_params == pytest.approx(1.0076e9, rel=1e-3)
    assert "total_params" in facts.unconfirmed
    weights = weight_memory(facts)
    assert weights.bytes == pytest.approx(facts.total_params * 2)
    assert "no quantization stated" in weights.formula


def test_multimodal_config_nests_text_facts_and_per_type_kv_shapes():
    layer_types = (["sliding_attention"] * 5 + ["full_attention"]) * 5
    config = {
        "architectures": ["Gemma4ForConditionalGeneration"],
        "dtype": "bfloat16",
        "quantization_config": {"quant_method": "awq", "bits": 4},
        "text_config": {
            "num_hidden_layers": 30,
            "num_attention_heads": 16,
            "hidden_size": 2816,
            "num_key_value_heads": 8,
            "num_global_key_value_heads": 2,
            "head_dim": 256,
            "global_head_dim": 512,
            "sliding_window": 1024,
            "layer_types": layer_types,
            "max_position_embeddings": 262144,
            "num_experts": 128,
            "top_k_experts": 8,
            "moe_intermediate_size": 704,
            "vocab_size": 262144,
        },
    }
    facts = facts_from_config(config, "gemma4/config.json", "gemma4")
    assert facts.layers.count(Layer("sliding", 8, 256, 1024)) == 25
    assert facts.layers.count(Layer("full", 2, 512)) == 5
    assert facts.native_context == 262144
    assert facts.quantization == "awq-4bit" and bits_for(facts.quantization) == pytest.approx(
        4.156, abs=1e-3
    )
    assert facts.experts == 128 and facts.experts_per_token == 8
    assert facts.active_params < facts.total_params


def test_hybrid_patterns_keep_kv_only_on_attention_layers():
    config = {
        "num_hidden_layers": 7,
        "num_attention_heads": 32,
        "hidden_size": 2688,
        "num_key_value_heads": 2,
        "head_dim": 128,
        "hybrid_override_pattern": "MEM*EME",
    }
    facts = facts_from_config(config, "nemotron/config.json", "n")
    assert [layer.kind for layer in facts.layers] == [
        "state",
        "none",
        "state",
        "full",
        "none",
        "state",
        "none",
    ]
    assert facts.total_params is None  # no honest estimate for hybrids


def test_qwen2_style_sliding_window_switched_off_is_full_attention():
    config = {
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "hidden_size": 64,
        "sliding_window": 4096,
        "use_sliding_window": False,
    }
    assert {layer.kind for layer in facts_from_config(config, "c", "q").layers} == {"full"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"num_hidden_layers": 2,', "malformed JSON at line 1"),
        ('["not", "an", "object"]', "expected a JSON object"),
        ('{"num_attention_heads": 4, "hidden_size": 64}', "num_hidden_layers is missing"),
        (
            '{"num_hidden_layers": "x", "num_attention_heads": 4, "hidden_size": 64}',
            "num_hidden_layers must be a positive integer",
        ),
        (
            '{"num_hidden_layers": 2, "num_attention_heads": 4, "hidden_size": 64, '
            '"layer_types": ["full_attention"]}',
            "layer_types has 1 entries for 2 layers",
        ),
    ],
)
def test_bad_configs_name_the_file_and_the_problem(tmp_path: Path, content: str, message: str):
    (tmp_path / "config.json").write_text(content)
    with pytest.raises(BadInput, match=message) as caught:
        read_local(tmp_path)
    assert str(tmp_path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_folder_without_config_and_broken_gguf_are_bad_input(tmp_path: Path):
    with pytest.raises(BadInput, match="no config.json here"):
        read_local(tmp_path)
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x00" * 10)
    with pytest.raises(BadInput, match="not a readable GGUF file"):
        read_local(broken)


def test_native_context_never_raises():
    assert native_context(load_recipe("local-stories260k")) == 512
    assert native_context(load_recipe("gemma4-26b-a4b-vision-mtp")) == 131072
    assert native_context(recipe_for("/nonexistent/model-folder")) is None
    assert native_context(recipe_for("missing.gguf", engine="llamacpp")) is None


def test_unknown_local_name_without_bundled_facts_is_bad_input():
    with pytest.raises(BadInput, match="no local file .* and no bundled facts"):
        model_facts(recipe_for("missing.gguf", engine="llamacpp"))


def test_recipe_quantization_overrides_the_config(tmp_path: Path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps(json.loads((DATA / "standin-1b" / "config.json").read_text()))
    )
    facts = model_facts(recipe_for(str(folder), extra=""))
    assert facts.quantization is None
    facts = model_facts(
        recipe_from_text(
            f"name: t\nengine: {{name: vllm}}\nmodel: {{id: '{folder}', quantization: fp8}}\n", "t"
        )
    )
    assert facts.quantization == "fp8"
    assert weight_memory(facts).bytes == pytest.approx(
        facts.total_params - 512 * 2048 + 512 * 2048 * 2
    )
