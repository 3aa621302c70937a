"""The Qwen 3.6 27B stand-in GGUFs: a qwen35 target, a dflash and an eagle3 drafter, with the
keys, taps and tensors llama.cpp's loaders read (no torch, no engine needed here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from servelab.recipe import load_recipe
from tests.support import REPO, models_root

sys.path.insert(0, str(REPO / "benchmarks" / "standins"))

import make_standins  # noqa: E402
import qwen_dflash_gguf as q27  # noqa: E402
from qwen_mtp_gguf import read_metadata  # noqa: E402


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("standins")
    return make_standins.make(["qwen3.6-27b"], out, models_root())["qwen3.6-27b"]


def test_target_is_a_dense_qwen35_with_the_real_layer_pattern(folder):
    meta = read_metadata(folder / "target.gguf")
    assert meta["general.architecture"] == "qwen35"
    assert meta["qwen35.block_count"] == 12 and meta["qwen35.full_attention_interval"] == 4
    tensors = meta["tensors"]
    attention = [il for il in range(12) if f"blk.{il}.attn_q.weight" in tensors]
    assert attention == [3, 7, 11]  # every 4th layer, as the real 64
    assert all(f"blk.{il}.ssm_conv1d.weight" in tensors for il in range(12) if il not in attention)
    assert "blk.0.ffn_up.weight" in tensors and not any("exps" in n for n in tensors)  # dense
    assert meta["tokenizer.ggml.tokens"] == 513  # stories260k's 512 + <mask>


def test_dflash_drafter_has_what_llama_cpp_loads(folder):
    meta = read_metadata(folder / "dflash.gguf")
    assert meta["general.architecture"] == "dflash"
    assert meta["dflash.block_size"] == 16 and meta["dflash.block_count"] == 5
    taps = list(meta["dflash.target_layers"])
    assert taps == [i + 1 for i in q27.TARGET_LAYER_IDS] == [2, 4, 6, 8, 10]
    assert max(taps) < q27.TARGET["n_layer"]  # a layer input the target graph exposes
    assert list(meta["dflash.attention.sliding_window_pattern"]) == [True] * 4 + [False]
    assert list(meta["dflash.rope.dimension_sections"]) == [16, 0, 0, 0]  # M-RoPE target
    assert meta["tokenizer.ggml.mask_token_id"] == 512
    tensors = meta["tensors"]
    e = q27.TARGET["n_embd"]
    assert meta["dflash.embedding_length"] == e  # it borrows the target's embeddings and head
    assert tensors["fc.weight"] == (e, e * len(taps))
    assert {"enc.output_norm.weight", "output_norm.weight", "blk.4.ffn_norm.weight"} <= set(tensors)
    assert "token_embd.weight" not in tensors and "output.weight" not in tensors


def test_eagle3_drafter_taps_three_target_layers(folder):
    meta = read_metadata(folder / "eagle3.gguf")
    assert meta["general.architecture"] == "eagle3"
    assert list(meta["eagle3.target_layers"]) == [2, 6, 9]
    assert meta["eagle3.target_hidden_size"] == q27.TARGET["n_embd"]
    tensors = meta["tensors"]
    e = q27.TARGET["n_embd"]
    assert tensors["fc.weight"] == (e, 3 * e)
    assert tensors["blk.0.attn_q.weight"][1] == 2 * e  # [token embedding, fused taps]


def test_the_vocabularies_match_and_end_with_the_mask(folder):
    import gguf

    def tokens(name: str) -> list[bytes]:
        field = gguf.GGUFReader(str(folder / name)).fields["tokenizer.ggml.tokens"]
        return [bytes(field.parts[i]) for i in field.data]

    target = tokens("target.gguf")
    assert target[-1] == b"<mask>"
    assert tokens("dflash.gguf") == target == tokens("eagle3.gguf")


def test_generation_is_deterministic(folder, tmp_path):
    again = make_standins.make(["qwen3.6-27b"], tmp_path, models_root())["qwen3.6-27b"]
    for name in ("target.gguf", "dflash.gguf", "eagle3.gguf"):
        assert (again / name).read_bytes() == (folder / name).read_bytes(), name


@pytest.mark.parametrize("name", ["standin-qwen3.6-27b-dflash", "standin-qwen3.6-27b-nospec"])
def test_recipes_keep_the_post_flags_and_name_the_generated_files(name, folder):
    recipe, post = load_recipe(name), load_recipe("qwen3.6-27b-dflash")
    assert recipe.engine.name == post.engine.name == "llamacpp"
    assert (recipe.features, recipe.runtime, recipe.extra_args) == (
        post.features,
        post.runtime,
        post.extra_args,
    )
    refs = [recipe.model] + ([recipe.speculative.model] if recipe.speculative else [])
    for ref in refs:
        assert ref.id == "standins/qwen3.6-27b" and (folder / ref.file).is_file()
    if recipe.speculative:
        assert recipe.speculative.method == post.speculative.method == "dflash"
        twin = load_recipe("standin-qwen3.6-27b-nospec").canonical()
        derived = recipe.without_speculation().canonical()
        for key in ("engine", "model", "context", "features", "runtime", "extra_args"):
            assert twin[key] == derived[key], key
