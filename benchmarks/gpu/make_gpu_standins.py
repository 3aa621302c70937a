"""Random-weight stand-in models for GPU runs (run on the GPU host: needs torch + transformers).

Writes, under DST: ``stories260k/hf`` (a copy of the real model's HF folder), ``standins/
standin-1b`` (a Llama with 16 layers, hidden 2048, 16 query / 8 KV heads of 128, bf16, ~1.0 B
parameters) and ``standins/standin-draft`` (same shapes, 2 layers, different random weights),
both with stories260k's 512-token vocabulary and tokenizer, so every server speaks the same
tokens. Random weights give real speed, not meaningful text; the 1B model as its own draft
accepts ~100 % at temperature 0, the random draft ~0 %.

Usage: python3 make_gpu_standins.py SRC_STORIES260K_HF DST
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


def make(src: Path, dst: Path, name: str, layers: int, seed: int) -> int:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=512,
        hidden_size=2048,
        intermediate_size=8192,
        num_hidden_layers=layers,
        num_attention_heads=16,
        num_key_value_heads=8,
        head_dim=128,
        max_position_embeddings=8192,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=True,
        torch_dtype="bfloat16",
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    out = dst / "standins" / name
    model.save_pretrained(out)
    for filename in TOKENIZER_FILES:
        shutil.copy(src / filename, out / filename)
    return sum(p.numel() for p in model.parameters())


def main(src_text: str, dst_text: str) -> None:
    src, dst = Path(src_text), Path(dst_text)
    shutil.copytree(src, dst / "stories260k" / "hf", dirs_exist_ok=True)
    for name, layers, seed in (("standin-1b", 16, 0), ("standin-draft", 2, 1)):
        params = make(src, dst, name, layers, seed)
        print(f"{name}: {params / 1e9:.3f} B parameters", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
