"""Gemma 4 26B-A4B stand-ins: the multimodal MoE target, its MTP assistant, a DFlash drafter.

Every layer keeps the real attention geometry (sliding layers 8 KV heads x 256, window 1024;
full layers 2 KV heads x 512 with K = V), so per-layer KV bytes match the real model; widths,
depth and expert count are scaled down. SOURCES.md says where each value comes from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from common import fresh_dir, rng, write_json
from gemma_tokenizer import VOCAB_SIZE, generation_config, write_processor, write_tokenizer

# 5 sliding : 1 full, the real model's repeating unit (30 layers = 5 units).
TARGET_LAYER_TYPES = ["sliding_attention"] * 5 + ["full_attention"]
ASSISTANT_LAYER_TYPES = ["sliding_attention"] * 3 + ["full_attention"]
TARGET_HIDDEN = 128
DFLASH_TAPS = [0, 2, 4]  # target layers whose hidden states feed the DFlash drafter
DFLASH_BLOCK = 16

ROPE = {
    "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
    "full_attention": {
        "rope_type": "proportional",
        "partial_rotary_factor": 0.25,
        "rope_theta": 1_000_000.0,
    },
}


def attention_geometry() -> dict[str, Any]:
    """The real 26B-A4B attention: the part of the config the KV cache depends on."""
    return {
        "num_attention_heads": 8,
        "num_key_value_heads": 8,
        "head_dim": 256,
        "num_global_key_value_heads": 2,
        "global_head_dim": 512,
        "attention_k_eq_v": True,
        "sliding_window": 1024,
        "max_position_embeddings": 131072,
        "rope_parameters": ROPE,
        "attention_bias": False,
        "rms_norm_eps": 1e-6,
    }


def target_text_config(ids: dict[str, int]) -> dict[str, Any]:
    return {
        "model_type": "gemma4_text",
        **attention_geometry(),
        "vocab_size": VOCAB_SIZE,
        "hidden_size": TARGET_HIDDEN,
        "intermediate_size": 96,
        "num_hidden_layers": len(TARGET_LAYER_TYPES),
        "layer_types": TARGET_LAYER_TYPES,
        "enable_moe_block": True,
        "num_experts": 8,
        "top_k_experts": 2,
        "moe_intermediate_size": 32,
        "hidden_activation": "gelu_pytorch_tanh",
        "final_logit_softcapping": 30.0,
        "hidden_size_per_layer_input": 0,
        "vocab_size_per_layer_input": VOCAB_SIZE,
        "num_kv_shared_layers": 0,
        "use_double_wide_mlp": False,
        "tie_word_embeddings": True,
        "bos_token_id": 1,
        "eos_token_id": [2, ids["<turn|>"]],
        "pad_token_id": ids["<pad>"],
    }


def vision_config() -> dict[str, Any]:
    return {
        "model_type": "gemma4_vision",
        "hidden_size": 72,
        "intermediate_size": 144,
        "num_hidden_layers": 2,
        "num_attention_heads": 1,
        "num_key_value_heads": 1,
        "head_dim": 72,
        "patch_size": 16,
        "pooling_kernel_size": 3,
        "position_embedding_size": 10240,
        "default_output_length": 280,
        "hidden_activation": "gelu_pytorch_tanh",
        "rms_norm_eps": 1e-6,
        "standardize": False,
        "use_clipped_linears": False,
    }


def target_config(ids: dict[str, int]) -> dict[str, Any]:
    """config.json of the target (Gemma4ForConditionalGeneration, text + vision)."""
    return {
        "architectures": ["Gemma4ForConditionalGeneration"],
        "model_type": "gemma4",
        "text_config": target_text_config(ids),
        "vision_config": vision_config(),
        "audio_config": None,
        "boi_token_id": ids["<|image>"],
        "image_token_id": ids["<|image|>"],
        "eoi_token_id": ids["<image|>"],
        "video_token_id": ids["<|video|>"],
        "boa_token_id": ids["<|audio>"],
        "audio_token_id": ids["<|audio|>"],
        "eoa_token_index": ids["<audio|>"],
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
    }


def assistant_config(ids: dict[str, int]) -> dict[str, Any]:
    """config.json of the MTP assistant (gemma4_assistant; vLLM maps it to gemma4_mtp)."""
    text = {
        "model_type": "gemma4_text",
        **attention_geometry(),
        "vocab_size": VOCAB_SIZE,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": len(ASSISTANT_LAYER_TYPES),
        "layer_types": ASSISTANT_LAYER_TYPES,
        "num_kv_shared_layers": len(ASSISTANT_LAYER_TYPES),
        "enable_moe_block": False,
        "hidden_size_per_layer_input": 0,
        "vocab_size_per_layer_input": 0,
        "use_double_wide_mlp": False,
        "hidden_activation": "gelu_pytorch_tanh",
        "final_logit_softcapping": 30.0,
        "tie_word_embeddings": True,
        "bos_token_id": 1,
        "eos_token_id": [2, ids["<turn|>"]],
        "pad_token_id": ids["<pad>"],
    }
    return {
        "architectures": ["Gemma4AssistantForCausalLM"],
        "model_type": "gemma4_assistant",
        "text_config": text,
        "backbone_hidden_size": TARGET_HIDDEN,
        "use_ordered_embeddings": False,
        "num_centroids": 32,
        "centroid_intermediate_top_k": 4,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
    }


def dflash_config(ids: dict[str, int]) -> dict[str, Any]:
    """config.json of the DFlash drafter (Qwen3 layers, DFlashDraftModel architecture)."""
    return {
        "architectures": ["DFlashDraftModel"],
        "model_type": "qwen3",
        "vocab_size": VOCAB_SIZE,
        "hidden_size": TARGET_HIDDEN,
        "target_hidden_size": TARGET_HIDDEN,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "layer_types": ["full_attention", "full_attention"],
        "num_attention_heads": 4,
        # The target's full-attention geometry (2 KV heads x 512): vLLM 0.22 puts every drafting
        # layer in one KV-cache group and asserts so; 2 x 64 failed ("All drafting layers should
        # belong to the same kv cache group") beside Gemma 4's sliding/full groups.
        "num_key_value_heads": 2,
        "head_dim": 512,
        "hidden_act": "silu",
        "rms_norm_eps": 1e-6,
        "attention_bias": False,
        "max_position_embeddings": 131072,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000.0},
        "tie_word_embeddings": False,
        "block_size": DFLASH_BLOCK,
        "dflash_config": {
            "block_size": DFLASH_BLOCK,
            "mask_token_id": ids["<mask>"],
            "target_layer_ids": DFLASH_TAPS,
        },
        "num_target_layers": len(TARGET_LAYER_TYPES),
        "torch_dtype": "bfloat16",
        "bos_token_id": 1,
        "eos_token_id": 2,
    }


# --- writing ---------------------------------------------------------------------------------


def _save_with_transformers(config: dict[str, Any], dst: Path, model_class: str) -> None:
    """Instantiate the transformers class from config.json and save its random weights."""
    import torch
    import transformers

    torch.manual_seed(0)
    hf_config = transformers.AutoConfig.from_pretrained(dst)
    model = getattr(transformers, model_class)(hf_config).to(torch.bfloat16)
    model.save_pretrained(dst)
    write_json(dst / "config.json", config)  # keep the real key layout, not the re-serialised one


def write_gemma4_target(out: Path, stories_hf: Path) -> Path:
    """Gemma4ForConditionalGeneration stand-in with tokenizer, processor and chat template."""
    dst = fresh_dir(out / "gemma4-target")
    ids = write_tokenizer(stories_hf, dst)
    write_processor(dst)
    config = target_config(ids)
    write_json(dst / "config.json", config)
    (dst / "generation_config.json").write_text(
        generation_config([2, ids["<turn|>"]], ids["<pad>"])
    )
    _save_with_transformers(config, dst, "Gemma4ForConditionalGeneration")
    return dst


def write_gemma4_assistant(out: Path, stories_hf: Path) -> Path:
    """gemma4_assistant stand-in (the drafter vLLM's gemma4_mtp method loads)."""
    dst = fresh_dir(out / "gemma4-assistant")
    ids = write_tokenizer(stories_hf, dst)
    config = assistant_config(ids)
    write_json(dst / "config.json", config)
    (dst / "generation_config.json").write_text(
        generation_config([2, ids["<turn|>"]], ids["<pad>"])
    )
    _save_with_transformers(config, dst, "Gemma4AssistantForCausalLM")
    return dst


def dflash_tensors(config: dict[str, Any], name: str) -> dict[str, np.ndarray]:
    """DFlash drafter weights by the names vLLM's qwen3_dflash loader expects.

    No embed_tokens / lm_head: like the published drafters, it borrows the target's.
    """
    gen = rng(name)
    hidden, inter = config["hidden_size"], config["intermediate_size"]
    heads, kv_heads, head_dim = (
        config["num_attention_heads"],
        config["num_key_value_heads"],
        config["head_dim"],
    )
    taps = len(config["dflash_config"]["target_layer_ids"])

    def dense(rows: int, cols: int) -> np.ndarray:
        return (gen.standard_normal((rows, cols)) * 0.02).astype(np.float16)

    def ones(size: int) -> np.ndarray:
        return np.ones(size, dtype=np.float16)

    tensors = {
        "fc.weight": dense(hidden, config["target_hidden_size"] * taps),
        "hidden_norm.weight": ones(hidden),
        "norm.weight": ones(hidden),
    }
    for i in range(config["num_hidden_layers"]):
        p = f"layers.{i}"
        tensors |= {
            f"{p}.self_attn.q_proj.weight": dense(heads * head_dim, hidden),
            f"{p}.self_attn.k_proj.weight": dense(kv_heads * head_dim, hidden),
            f"{p}.self_attn.v_proj.weight": dense(kv_heads * head_dim, hidden),
            f"{p}.self_attn.o_proj.weight": dense(hidden, heads * head_dim),
            f"{p}.self_attn.q_norm.weight": ones(head_dim),
            f"{p}.self_attn.k_norm.weight": ones(head_dim),
            f"{p}.mlp.gate_proj.weight": dense(inter, hidden),
            f"{p}.mlp.up_proj.weight": dense(inter, hidden),
            f"{p}.mlp.down_proj.weight": dense(hidden, inter),
            f"{p}.input_layernorm.weight": ones(hidden),
            f"{p}.post_attention_layernorm.weight": ones(hidden),
        }
    return tensors


def write_gemma4_dflash(out: Path, stories_hf: Path) -> Path:
    """DFlash drafter for the Gemma 4 target (pure numpy + safetensors, no torch needed)."""
    from safetensors.numpy import save_file

    dst = fresh_dir(out / "gemma4-dflash")
    ids = write_tokenizer(stories_hf, dst)
    config = dflash_config(ids)
    write_json(dst / "config.json", config)
    save_file(dflash_tensors(config, "gemma4-dflash"), str(dst / "model.safetensors"))
    return dst
