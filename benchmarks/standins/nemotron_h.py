"""Nemotron-H (Nemotron Elastic 30B-A3B's family) stand-in: Mamba-2 + attention + MoE, bf16.

What it cannot reproduce: the NVFP4 checkpoint format (ModelOpt-quantised FP4 weights with
per-block scales) and the Elastic nested sub-networks. See SOURCES.md.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from common import fresh_dir, write_json

# M = Mamba-2, E = MoE, * = attention (the hybrid_override_pattern alphabet).
PATTERN = "MEM*E"


def nemotron_config() -> dict[str, Any]:
    return {
        "architectures": ["NemotronHForCausalLM"],
        "model_type": "nemotron_h",
        "vocab_size": 512,
        "hidden_size": 128,
        "num_hidden_layers": len(PATTERN),
        "hybrid_override_pattern": PATTERN,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 32,
        "intermediate_size": 256,
        "mlp_hidden_act": "relu2",
        "mamba_num_heads": 4,
        "mamba_head_dim": 64,
        "mamba_hidden_act": "silu",
        "ssm_state_size": 16,
        "n_groups": 2,
        "conv_kernel": 4,
        "expand": 2,
        "chunk_size": 128,
        "use_conv_bias": True,
        "mamba_proj_bias": False,
        "n_routed_experts": 8,
        "n_shared_experts": 1,
        "num_experts_per_tok": 2,
        "moe_intermediate_size": 64,
        "moe_shared_expert_intermediate_size": 64,
        "routed_scaling_factor": 2.5,
        "n_group": 1,
        "topk_group": 1,
        "norm_topk_prob": True,
        "layer_norm_epsilon": 1e-5,
        "max_position_embeddings": 262144,
        "attention_bias": False,
        "mlp_bias": False,
        "use_bias": False,
        "tie_word_embeddings": False,
        "residual_in_fp32": False,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": 0,
        "torch_dtype": "bfloat16",
    }


def _block_types(pattern: str) -> list[str]:
    names = {"M": "mamba", "E": "moe", "*": "attention", "-": "mlp"}
    return [names[c] for c in pattern]


def _published_weight_names(path: Path) -> None:
    """Rename tensors to the published checkpoints' names, the ones vLLM's loader maps.

    transformers saves the embedding as ``backbone.embedding.weight``; NVIDIA's checkpoints
    (and vLLM's nemotron_h loader) use ``backbone.embeddings.weight``.
    """
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(path))
    renamed = {
        name.replace("backbone.embedding.", "backbone.embeddings."): tensor
        for name, tensor in tensors.items()
    }
    save_file(renamed, str(path), metadata={"format": "pt"})


def write_nemotron_h(out: Path, stories_hf: Path) -> Path:
    """Random-weight NemotronHForCausalLM with the stories260k tokenizer."""
    import torch
    import transformers

    dst = fresh_dir(out / "nemotron-h")
    config = nemotron_config()
    hf_kwargs = {k: v for k, v in config.items() if k not in ("architectures", "model_type")}
    hf_kwargs.pop("hybrid_override_pattern")
    hf_config = transformers.NemotronHConfig(**hf_kwargs, layers_block_type=_block_types(PATTERN))
    torch.manual_seed(0)
    model = transformers.NemotronHForCausalLM(hf_config).to(torch.bfloat16)
    model.save_pretrained(dst)
    _published_weight_names(dst / "model.safetensors")
    write_json(dst / "config.json", config)
    for name in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json"):
        shutil.copy(stories_hf / name, dst / name)
    return dst
