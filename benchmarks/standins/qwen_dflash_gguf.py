"""Qwen 3.6 27B + drafters as GGUFs for llama.cpp `--spec-type draft-dflash` / `draft-eagle3`.

The target is `qwen35`, the dense Qwen 3.5/3.6 architecture (Gated-DeltaNet layers with one
gated full-attention layer every `full_attention_interval`, a dense SwiGLU MLP). The drafter is
`dflash`, as llama.cpp's converter writes a z-lab DFlash checkpoint (`DFlashModel`): a few Qwen3
layers that denoise a block of `<mask>` tokens, fed through `fc` + `enc.output_norm` with the
target's hidden states at the `target_layers` taps, and borrowing the target's token embeddings
and output head (it carries neither). An EAGLE-3 drafter (`eagle3`: one decoder layer over
three target taps) sits beside it for `draft-eagle3`. All share one vocabulary: stories260k's
plus `<mask>`.

The dflash / eagle3 key names are not in the PyPI `gguf` package: they are written with its generic
writer under the names llama.cpp's source gives (SOURCES.md cites file and revision).
"""

from __future__ import annotations

from pathlib import Path

import gguf
from common import fresh_dir
from qwen_mtp_gguf import (
    copy_vocab,
    embedding_shapes,
    mixer_shapes,
    qwen35_metadata,
    write_tensors,
)

TARGET_ARCH = "qwen35"
DRAFT_ARCH = "dflash"
FOLDER = "qwen3.6-27b"
MASK = "<mask>"

# llama.cpp src/llama-arch.cpp: LLM_KV_DFLASH_BLOCK_SIZE "%s.block_size",
# LLM_KV_TARGET_LAYERS "%s.target_layers" (the converter writes target_layer_ids + 1).
KEY_BLOCK_SIZE = f"{DRAFT_ARCH}.block_size"
KEY_TARGET_LAYERS = f"{DRAFT_ARCH}.target_layers"

# Scaled-down target (the real values are in SOURCES.md).
TARGET: dict[str, int] = {
    "n_embd": 64,
    "n_layer": 12,  # 9 Gated-DeltaNet + 3 attention layers (interval 4, as the real 64)
    "n_head": 4,
    "n_head_kv": 2,
    "head_dim": 32,
    "n_rot": 8,  # partial rotary 0.25 of head_dim
    "n_ff": 128,
    "ssm_conv": 4,
    "ssm_state": 16,  # linear key/value head dim
    "ssm_groups": 2,  # linear key heads
    "ssm_v_heads": 4,  # linear value heads
    "context": 262144,
    "full_attention_interval": 4,
}

# The drafter: 5 layers, 4 sliding-window + 1 full, block 16 (as the real 27B drafter).
DRAFT: dict[str, int] = {
    "n_layer": 5,
    "n_head": 4,
    "n_head_kv": 2,
    "head_dim": 32,
    "n_ff": 128,
    "block_size": 16,
    "sliding_window": 2048,
    "context": 262144,
}
DRAFT_SWA = [True, True, True, True, False]
# HF target_layer_ids: target layers whose outputs the drafter reads, spread as the real
# [1, 16, 31, 46, 61] over 64 layers; the GGUF stores each + 1 (the next layer's input).
TARGET_LAYER_IDS = [1, 3, 5, 7, 9]


def target_layers() -> list[int]:
    """`dflash.target_layers` as the converter writes it: each HF id + 1."""
    return [i + 1 for i in TARGET_LAYER_IDS]


def is_recurrent(layer: int) -> bool:
    """Gated-DeltaNet layer (True) or full attention (False)."""
    return (layer + 1) % TARGET["full_attention_interval"] != 0


def _target_metadata(writer: gguf.GGUFWriter, n_vocab: int) -> None:
    h = TARGET
    writer.add_name("servelab stand-in: Qwen 3.6 27B (random weights)")
    qwen35_metadata(writer, h, n_vocab, h["n_layer"], h["n_ff"])


def target_shapes(n_vocab: int) -> dict[str, tuple[int, ...]]:
    """The qwen35 target's tensors (numpy shapes, GGML dims reversed)."""
    h = TARGET
    e = h["n_embd"]
    shapes = embedding_shapes(n_vocab, e)
    for il in range(h["n_layer"]):
        b = f"blk.{il}"
        shapes[f"{b}.attn_norm.weight"] = (e,)
        shapes[f"{b}.post_attention_norm.weight"] = (e,)
        shapes |= mixer_shapes(b, h, recurrent=is_recurrent(il))
        shapes |= {
            f"{b}.ffn_gate.weight": (h["n_ff"], e),
            f"{b}.ffn_up.weight": (h["n_ff"], e),
            f"{b}.ffn_down.weight": (e, h["n_ff"]),
        }
    return shapes


def _draft_metadata(writer: gguf.GGUFWriter, n_vocab: int, mask_id: int) -> None:
    d, e = DRAFT, TARGET["n_embd"]
    writer.add_name("servelab stand-in: Qwen 3.6 27B DFlash drafter (random weights)")
    writer.add_vocab_size(n_vocab)
    writer.add_context_length(d["context"])
    writer.add_embedding_length(e)  # = the target's: the drafter borrows its embeddings + head
    writer.add_block_count(d["n_layer"])
    writer.add_feed_forward_length(d["n_ff"])
    writer.add_head_count(d["n_head"])
    writer.add_head_count_kv(d["n_head_kv"])
    writer.add_key_length(d["head_dim"])
    writer.add_value_length(d["head_dim"])
    writer.add_rope_freq_base(10_000_000.0)
    # an M-RoPE target: the drafter ropes on the temporal section only
    writer.add_rope_dimension_sections([d["head_dim"] // 2, 0, 0, 0])
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_uint32(KEY_BLOCK_SIZE, d["block_size"])
    writer.add_array(KEY_TARGET_LAYERS, target_layers())
    writer.add_sliding_window(d["sliding_window"])
    writer.add_sliding_window_pattern(DRAFT_SWA)
    writer.add_mask_token_id(mask_id)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)


def draft_shapes() -> dict[str, tuple[int, ...]]:
    """The dflash drafter's tensors: fc over the taps, Qwen3 layers, two norms; no embeddings."""
    d, e = DRAFT, TARGET["n_embd"]
    q_dim, kv_dim = d["head_dim"] * d["n_head"], d["head_dim"] * d["n_head_kv"]
    shapes: dict[str, tuple[int, ...]] = {
        "fc.weight": (e, e * len(TARGET_LAYER_IDS)),
        "enc.output_norm.weight": (e,),  # the checkpoint's hidden_norm, applied after fc
        "output_norm.weight": (e,),
    }
    for il in range(d["n_layer"]):
        b = f"blk.{il}"
        shapes |= {
            f"{b}.attn_norm.weight": (e,),
            f"{b}.attn_q.weight": (q_dim, e),
            f"{b}.attn_k.weight": (kv_dim, e),
            f"{b}.attn_v.weight": (kv_dim, e),
            f"{b}.attn_output.weight": (e, q_dim),
            f"{b}.attn_q_norm.weight": (d["head_dim"],),
            f"{b}.attn_k_norm.weight": (d["head_dim"],),
            f"{b}.ffn_norm.weight": (e,),
            f"{b}.ffn_gate.weight": (d["n_ff"], e),
            f"{b}.ffn_up.weight": (d["n_ff"], e),
            f"{b}.ffn_down.weight": (e, d["n_ff"]),
        }
    return shapes


def write_qwen_dflash_gguf(out: Path, stories: Path) -> Path:
    """target.gguf (qwen35), dflash.gguf and eagle3.gguf in one folder; returns the folder."""
    dst = fresh_dir(out / FOLDER)
    writer = gguf.GGUFWriter(str(dst / "target.gguf"), TARGET_ARCH)
    n_vocab = copy_vocab(writer, stories, control=(MASK,))
    _target_metadata(writer, n_vocab)
    write_tensors(writer, target_shapes(n_vocab), f"{FOLDER}-target")

    writer = gguf.GGUFWriter(str(dst / "dflash.gguf"), DRAFT_ARCH)
    copy_vocab(writer, stories, control=(MASK,))
    _draft_metadata(writer, n_vocab, mask_id=n_vocab - 1)
    write_tensors(writer, draft_shapes(), f"{FOLDER}-dflash")

    writer = gguf.GGUFWriter(str(dst / "eagle3.gguf"), EAGLE3_ARCH)
    copy_vocab(writer, stories, control=(MASK,))
    _eagle3_metadata(writer, n_vocab)
    write_tensors(writer, eagle3_shapes(), f"{FOLDER}-eagle3")
    return dst


# --- EAGLE-3 ---------------------------------------------------------------------------------
EAGLE3_ARCH = "eagle3"
# llama.cpp src/llama-arch.cpp: "%s.target_layers", "%s.target_hidden_size",
# "%s.norm_before_residual", "%s.norm_before_fc"; src/models/eagle3.cpp needs exactly 3 taps.
KEY_E3_TARGET_LAYERS = f"{EAGLE3_ARCH}.target_layers"
KEY_E3_TARGET_HIDDEN = f"{EAGLE3_ARCH}.target_hidden_size"
KEY_E3_NORM_BEFORE_RESIDUAL = f"{EAGLE3_ARCH}.norm_before_residual"
KEY_E3_NORM_BEFORE_FC = f"{EAGLE3_ARCH}.norm_before_fc"
EAGLE3 = {"n_head": 4, "n_head_kv": 2, "head_dim": 16, "n_ff": 128}


def eagle3_taps() -> list[int]:
    """The converter's default taps when the checkpoint names none: [2, n // 2, n - 3]."""
    n = TARGET["n_layer"]
    return [2, n // 2, n - 3]


def _eagle3_metadata(writer: gguf.GGUFWriter, n_vocab: int) -> None:
    d, e = EAGLE3, TARGET["n_embd"]
    writer.add_name("servelab stand-in: Qwen 3.6 27B EAGLE-3 drafter (random weights)")
    writer.add_vocab_size(n_vocab)
    writer.add_context_length(TARGET["context"])
    writer.add_embedding_length(e)
    writer.add_block_count(1)
    writer.add_feed_forward_length(d["n_ff"])
    writer.add_head_count(d["n_head"])
    writer.add_head_count_kv(d["n_head_kv"])
    writer.add_rope_dimension_count(d["head_dim"])
    writer.add_rope_freq_base(10_000_000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_array(KEY_E3_TARGET_LAYERS, eagle3_taps())
    writer.add_uint32(KEY_E3_TARGET_HIDDEN, e)
    writer.add_bool(KEY_E3_NORM_BEFORE_RESIDUAL, False)
    writer.add_bool(KEY_E3_NORM_BEFORE_FC, False)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)


def eagle3_shapes() -> dict[str, tuple[int, ...]]:
    """One decoder layer whose attention reads [embedding, fused taps] (2 x hidden wide)."""
    d, e = EAGLE3, TARGET["n_embd"]
    q_dim, kv_dim = d["head_dim"] * d["n_head"], d["head_dim"] * d["n_head_kv"]
    return {
        "fc.weight": (e, e * len(eagle3_taps())),
        "output_norm.weight": (e,),
        "blk.0.attn_norm.weight": (e,),
        "blk.0.attn_norm_2.weight": (e,),  # the checkpoint's hidden_norm
        "blk.0.attn_q.weight": (q_dim, 2 * e),
        "blk.0.attn_k.weight": (kv_dim, 2 * e),
        "blk.0.attn_v.weight": (kv_dim, 2 * e),
        "blk.0.attn_output.weight": (e, q_dim),
        "blk.0.ffn_norm.weight": (e,),
        "blk.0.ffn_gate.weight": (d["n_ff"], e),
        "blk.0.ffn_up.weight": (d["n_ff"], e),
        "blk.0.ffn_down.weight": (e, d["n_ff"]),
    }
