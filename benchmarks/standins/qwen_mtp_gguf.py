"""Qwen 3.6 35B-A3B stand-in as GGUF for llama.cpp `--spec-type draft-mtp`.

llama.cpp's MTP drafter runs on the qwen35moe architecture (Qwen 3.5/3.6 MoE): Gated-DeltaNet
linear-attention layers with one full-attention layer every `full_attention_interval`, routed
plus shared experts, and one NextN (MTP) block appended after the trunk (block_count counts it,
`nextn_predict_layers` says how many). Tensor names and shapes follow llama.cpp's qwen35moe
loader; the vocabulary is stories260k's (read from its GGUF).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gguf
import numpy as np
from common import fresh_dir, rng

ARCH = "qwen35moe"

# Scaled-down hyperparameters (the real values are in SOURCES.md).
HPARAMS: dict[str, int] = {
    "n_embd": 64,
    "n_trunk": 4,  # 3 Gated-DeltaNet layers + 1 full-attention layer (interval 4, as the real 40)
    "n_nextn": 1,
    "n_head": 4,
    "n_head_kv": 2,
    "head_dim": 32,
    "n_rot": 8,  # partial rotary 0.25 of head_dim
    "n_expert": 8,
    "n_expert_used": 2,
    "n_ff_exp": 32,
    "n_ff_shexp": 32,
    "ssm_conv": 4,
    "ssm_state": 16,  # linear key/value head dim
    "ssm_groups": 2,  # linear key heads
    "ssm_v_heads": 4,  # linear value heads
    "context": 262144,
    "full_attention_interval": 4,
}
ROPE_SECTIONS = [2, 1, 1, 0]  # interleaved M-RoPE sections, summing to n_rot / 2


def copy_vocab(writer: gguf.GGUFWriter, stories: Path, control: tuple[str, ...] = ()) -> int:
    """stories260k's tokenizer fields, plus ``control`` tokens appended; returns the size."""
    reader = gguf.GGUFReader(str(stories))
    fields = reader.fields
    tokens = [
        bytes(fields["tokenizer.ggml.tokens"].parts[i])
        for i in fields["tokenizer.ggml.tokens"].data
    ]
    scores = [
        float(fields["tokenizer.ggml.scores"].parts[i][0])
        for i in fields["tokenizer.ggml.scores"].data
    ]
    types = [
        int(fields["tokenizer.ggml.token_type"].parts[i][0])
        for i in fields["tokenizer.ggml.token_type"].data
    ]
    tokens += [name.encode() for name in control]
    scores += [0.0] * len(control)
    types += [int(gguf.TokenType.CONTROL)] * len(control)
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_chat_template(str(fields["tokenizer.chat_template"].contents()))
    return len(tokens)


def _metadata(writer: gguf.GGUFWriter, n_vocab: int) -> None:
    h = HPARAMS
    writer.add_name("servelab stand-in: Qwen 3.6 35B-A3B MTP (random weights)")
    qwen35_metadata(writer, h, n_vocab, h["n_trunk"] + h["n_nextn"], h["n_ff_exp"])
    writer.add_nextn_predict_layers(h["n_nextn"])
    writer.add_expert_count(h["n_expert"])
    writer.add_expert_used_count(h["n_expert_used"])
    writer.add_expert_feed_forward_length(h["n_ff_exp"])
    writer.add_expert_shared_feed_forward_length(h["n_ff_shexp"])


def qwen35_metadata(
    writer: gguf.GGUFWriter, h: dict[str, int], n_vocab: int, blocks: int, n_ff: int
) -> None:
    """The keys every Qwen 3.5/3.6 hybrid (Gated DeltaNet + gated attention) GGUF carries."""
    writer.add_vocab_size(n_vocab)
    writer.add_context_length(h["context"])
    writer.add_embedding_length(h["n_embd"])
    writer.add_block_count(blocks)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(h["n_head"])
    writer.add_head_count_kv(h["n_head_kv"])
    writer.add_key_length(h["head_dim"])
    writer.add_value_length(h["head_dim"])
    writer.add_rope_dimension_count(h["n_rot"])
    writer.add_rope_dimension_sections(ROPE_SECTIONS)
    writer.add_rope_freq_base(10_000_000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_ssm_conv_kernel(h["ssm_conv"])
    writer.add_ssm_state_size(h["ssm_state"])
    writer.add_ssm_group_count(h["ssm_groups"])
    writer.add_ssm_time_step_rank(h["ssm_v_heads"])
    writer.add_ssm_inner_size(h["ssm_state"] * h["ssm_v_heads"])
    writer.add_full_attention_interval(h["full_attention_interval"])
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)


def is_recurrent(layer: int) -> bool:
    """Gated-DeltaNet layer (True) or full attention (False); the NextN block is attention."""
    h = HPARAMS
    return layer < h["n_trunk"] and (layer + 1) % h["full_attention_interval"] != 0


def mixer_shapes(b: str, h: dict[str, int], *, recurrent: bool) -> dict[str, tuple[int, ...]]:
    """A Qwen 3.5/3.6 block's token mixer: Gated DeltaNet, or gated full attention."""
    e, hd = h["n_embd"], h["head_dim"]
    q_dim, kv_dim = hd * h["n_head"], hd * h["n_head_kv"]
    key_dim = h["ssm_state"] * h["ssm_groups"]
    value_dim = h["ssm_state"] * h["ssm_v_heads"]
    if recurrent:
        return {
            f"{b}.attn_qkv.weight": (key_dim * 2 + value_dim, e),
            f"{b}.attn_gate.weight": (value_dim, e),
            f"{b}.ssm_conv1d.weight": (key_dim * 2 + value_dim, h["ssm_conv"]),
            f"{b}.ssm_dt.bias": (h["ssm_v_heads"],),
            f"{b}.ssm_a": (h["ssm_v_heads"],),
            f"{b}.ssm_beta.weight": (h["ssm_v_heads"], e),
            f"{b}.ssm_alpha.weight": (h["ssm_v_heads"], e),
            f"{b}.ssm_norm.weight": (h["ssm_state"],),
            f"{b}.ssm_out.weight": (e, value_dim),
        }
    return {
        f"{b}.attn_q.weight": (q_dim * 2, e),  # query and its output gate
        f"{b}.attn_k.weight": (kv_dim, e),
        f"{b}.attn_v.weight": (kv_dim, e),
        f"{b}.attn_output.weight": (e, q_dim),
        f"{b}.attn_q_norm.weight": (hd,),
        f"{b}.attn_k_norm.weight": (hd,),
    }


def embedding_shapes(n_vocab: int, e: int) -> dict[str, tuple[int, ...]]:
    """The input embedding, final norm and output head every Qwen 3.5/3.6 model has."""
    return {
        "token_embd.weight": (n_vocab, e),
        "output_norm.weight": (e,),
        "output.weight": (n_vocab, e),
    }


def tensor_shapes(n_vocab: int) -> dict[str, tuple[int, ...]]:
    """Every tensor's name and numpy shape (GGML dims reversed) as llama.cpp loads them."""
    h = HPARAMS
    e = h["n_embd"]
    shapes = embedding_shapes(n_vocab, e)
    for il in range(h["n_trunk"] + h["n_nextn"]):
        b = f"blk.{il}"
        shapes[f"{b}.attn_norm.weight"] = (e,)
        shapes[f"{b}.post_attention_norm.weight"] = (e,)
        shapes |= mixer_shapes(b, h, recurrent=is_recurrent(il))
        shapes |= {
            f"{b}.ffn_gate_inp.weight": (h["n_expert"], e),
            f"{b}.ffn_gate_exps.weight": (h["n_expert"], h["n_ff_exp"], e),
            f"{b}.ffn_up_exps.weight": (h["n_expert"], h["n_ff_exp"], e),
            f"{b}.ffn_down_exps.weight": (h["n_expert"], e, h["n_ff_exp"]),
            f"{b}.ffn_gate_inp_shexp.weight": (e,),
            f"{b}.ffn_gate_shexp.weight": (h["n_ff_shexp"], e),
            f"{b}.ffn_up_shexp.weight": (h["n_ff_shexp"], e),
            f"{b}.ffn_down_shexp.weight": (e, h["n_ff_shexp"]),
        }
        if il >= h["n_trunk"]:
            shapes |= {
                f"{b}.nextn.eh_proj.weight": (e, 2 * e),
                f"{b}.nextn.enorm.weight": (e,),
                f"{b}.nextn.hnorm.weight": (e,),
                f"{b}.nextn.shared_head_norm.weight": (e,),
            }
    return shapes


def values(name: str, shape: tuple[int, ...], gen: np.random.Generator) -> np.ndarray:
    """Norms 1, Gated-DeltaNet decay and step neutral, every other weight N(0, 0.02)."""
    if name.endswith("norm.weight"):
        return np.ones(shape, dtype=np.float32)
    if name.endswith(".ssm_a"):
        return -np.ones(shape, dtype=np.float32)  # A = -exp(A_log) with A_log = 0
    if name.endswith(".ssm_dt.bias"):
        return np.zeros(shape, dtype=np.float32)
    return (gen.standard_normal(shape) * 0.02).astype(np.float32)


def write_qwen_mtp_gguf(out: Path, stories: Path) -> Path:
    """qwen35moe GGUF with one NextN block; returns the file path."""
    dst = fresh_dir(out / "qwen3.6-35b-a3b-mtp")
    path = dst / "model.gguf"
    writer = gguf.GGUFWriter(str(path), ARCH)
    n_vocab = copy_vocab(writer, stories)
    _metadata(writer, n_vocab)
    write_tensors(writer, tensor_shapes(n_vocab), "qwen3.6-35b-a3b-mtp")
    return path


def write_tensors(writer: gguf.GGUFWriter, shapes: dict[str, tuple[int, ...]], seed: str) -> None:
    """Seeded f32 weights for every tensor, then header, metadata and data to disk."""
    gen = rng(seed)
    for name, shape in shapes.items():
        writer.add_tensor(name, values(name, shape, gen))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def read_metadata(path: Path) -> dict[str, Any]:
    """Scalar metadata of a GGUF file (arrays summarised by length)."""
    reader = gguf.GGUFReader(str(path))
    out: dict[str, Any] = {}
    for key, field in reader.fields.items():
        out[key] = field.contents() if len(field.data) <= 8 else len(field.data)
    out["tensors"] = {t.name: tuple(int(d) for d in reversed(t.shape)) for t in reader.tensors}
    return out
