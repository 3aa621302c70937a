"""Model facts from a Hugging Face config.json (multimodal configs nest them in text_config)."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from servelab.errors import BadInput
from servelab.plan.facts import Layer, ModelFacts, normalise_dtype

_STATE_WORDS = ("linear", "mamba", "deltanet", "recurrent", "ssm", "conv")
_PATTERN_KINDS = {"*": "full", "M": "state", "-": "none", "E": "none"}
_BLOCK_KINDS = {"attention": "full", "mamba": "state", "mlp": "none", "moe": "none"}
# Configs older than `layer_types` that alternate sliding/full without saying so.
_IMPLIED_PATTERN = {"gemma2": 2}
_FLOAT_TENSORS = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"}


class _Config:
    """The text part of a config, with the top level as fallback, and its source for errors."""

    def __init__(self, config: dict[str, Any], source: str):
        nested = config.get("text_config")
        self.text = nested if isinstance(nested, dict) else config
        self.top = config
        self.source = source

    def get(self, *keys: str) -> Any:
        for key in keys:
            for scope in (self.text, self.top):
                if scope.get(key) is not None:
                    return scope[key]
        return None

    def integer(self, *keys: str, required: bool = False) -> int | None:
        value = self.get(*keys)
        if value is None:
            if required:
                raise BadInput(
                    f"{self.source}: {keys[0]} is missing (expected a decoder config with "
                    "num_hidden_layers, num_attention_heads, hidden_size)"
                )
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise BadInput(f"{self.source}: {keys[0]} must be a positive integer (got {value!r})")
        return value


def _kind(word: str, source: str) -> str:
    text = str(word).lower()
    if "sliding" in text or "local" in text or "chunked" in text:
        return "sliding"
    if any(part in text for part in _STATE_WORDS):
        return "state"
    if "full" in text or "global" in text or "attention" in text:
        return "full"
    raise BadInput(f"{source}: layer_types has an unknown layer type {word!r}")


def _layer_kinds(cfg: _Config, count: int) -> list[str]:
    """full / sliding / state / none for each layer."""
    types = cfg.get("layer_types")
    if isinstance(types, list):
        if len(types) != count:
            raise BadInput(f"{cfg.source}: layer_types has {len(types)} entries for {count} layers")
        return [_kind(word, cfg.source) for word in types]
    pattern = cfg.get("hybrid_override_pattern")
    if isinstance(pattern, str) and len(pattern) == count:
        return [_PATTERN_KINDS.get(char, "none") for char in pattern]
    blocks = cfg.get("layers_block_type")
    if isinstance(blocks, list) and len(blocks) == count:
        return [_BLOCK_KINDS.get(str(block).lower(), "none") for block in blocks]
    if cfg.get("sliding_window") and cfg.get("use_sliding_window") is not False:
        every = cfg.get("sliding_window_pattern", "_sliding_window_pattern")
        every = every or _IMPLIED_PATTERN.get(str(cfg.get("model_type")))
        if isinstance(every, int) and every > 0:
            return ["full" if (index + 1) % every == 0 else "sliding" for index in range(count)]
        return ["sliding"] * count
    return ["full"] * count


def _quantization(cfg: _Config) -> tuple[str | None, float | None]:
    """Quantization name and weight bits from quantization_config."""
    quant = cfg.get("quantization_config")
    if not isinstance(quant, dict):
        return None, None
    method = str(quant.get("quant_method") or "").lower()
    bits = quant.get("bits") or quant.get("w_bit")
    algo = str(quant.get("quant_algo") or "").lower()
    if method == "modelopt" and algo:
        return algo, None
    if method == "compressed-tensors":
        for group in (quant.get("config_groups") or {}).values():
            weights = (group or {}).get("weights") or {}
            if weights.get("num_bits"):
                kind = "fp" if weights.get("type") == "float" else "int"
                return f"{kind}{weights['num_bits']}", float(weights["num_bits"])
        return method, None
    if bits:
        return f"{method}-{bits}bit" if method else f"{bits}bit", None
    return method or None, None


def _layers(cfg: _Config, count: int, heads: int, hidden: int) -> list[Layer]:
    kinds = _layer_kinds(cfg, count)
    kv = cfg.integer("num_key_value_heads", "num_kv_heads", "n_head_kv") or heads
    head_dim = cfg.integer("head_dim", "kv_channels") or hidden // heads
    full_kv = cfg.integer("num_global_key_value_heads") or kv
    full_dim = cfg.integer("global_head_dim") or head_dim
    window = cfg.integer("sliding_window")
    out: list[Layer] = []
    for kind in kinds:
        if kind == "full":
            out.append(Layer("full", full_kv, full_dim))
        elif kind == "sliding":
            if window is None:
                raise BadInput(f"{cfg.source}: sliding layers but no sliding_window size")
            out.append(Layer("sliding", kv, head_dim, window))
        else:
            out.append(Layer(kind))  # type: ignore[arg-type]
    return out


def _estimate_params(
    cfg: _Config, layers: list[Layer], heads: int, hidden: int
) -> tuple[float | None, float | None]:
    """(total, active) from the shapes, for attention-only decoders; None otherwise."""
    if any(layer.kind not in ("full", "sliding") for layer in layers):
        return None, None
    vocab = cfg.integer("vocab_size") or 0
    inter = cfg.integer("intermediate_size", "ffn_dim") or 4 * hidden
    head_dim = cfg.integer("head_dim") or hidden // heads
    tied = cfg.get("tie_word_embeddings") is not False
    embed = vocab * hidden * (1 if tied else 2)
    total = active = float(embed)
    experts = cfg.integer("num_experts", "num_local_experts", "n_routed_experts")
    per_token = cfg.integer("num_experts_per_tok", "top_k_experts", "num_experts_per_token")
    moe_inter = cfg.integer("moe_intermediate_size", "expert_intermediate_size") or inter
    for layer in layers:
        attention = 2 * hidden * heads * head_dim + 2 * hidden * layer.kv_heads * layer.head_dim
        total += attention
        active += attention
        if experts:
            total += experts * 3 * hidden * moe_inter + hidden * experts
            active += (per_token or 1) * 3 * hidden * moe_inter + hidden * experts
        else:
            total += 3 * hidden * inter
            active += 3 * hidden * inter
    return total, active


def facts_from_config(config: dict[str, Any], source: str, name: str) -> ModelFacts:
    """ModelFacts from a parsed config.json; BadInput names the key that is wrong."""
    cfg = _Config(config, source)
    count = cfg.integer("num_hidden_layers", "n_layer", "num_layers", required=True)
    heads = cfg.integer("num_attention_heads", "n_head", required=True)
    hidden = cfg.integer("hidden_size", "n_embd", "d_model", required=True)
    assert count and heads and hidden
    layers = _layers(cfg, count, heads, hidden)
    quantization, bits = _quantization(cfg)
    total, active = _estimate_params(cfg, layers, heads, hidden)
    architectures = cfg.get("architectures") or [cfg.get("model_type") or "unknown"]
    rope = cfg.get("rope_scaling")
    facts = ModelFacts(
        name=name,
        architecture=str(architectures[0]),
        layers=layers,
        hidden_size=hidden,
        vocab_size=cfg.integer("vocab_size"),
        native_context=cfg.integer("max_position_embeddings", "n_positions", "seq_length"),
        total_params=total,
        active_params=active,
        experts=cfg.integer("num_experts", "num_local_experts", "n_routed_experts"),
        experts_per_token=cfg.integer("num_experts_per_tok", "top_k_experts"),
        dtype=normalise_dtype(cfg.get("torch_dtype", "dtype")),
        quantization=quantization,
        weight_bits=bits,
        rope_scaling=rope if isinstance(rope, dict) else None,
        source=source,
    )
    facts.sources = {key: "config.json" for key in ("layers", "native_context", "dtype")}
    if total is not None:
        facts.sources["total_params"] = "estimated from config.json shapes"
        facts.unconfirmed += ["total_params", "active_params"]
    return facts


def safetensors_totals(folder: Path) -> tuple[int, int | None] | None:
    """(bytes, parameters) of the tensors in a folder's *.safetensors files (headers only).

    Parameters are None when a tensor is packed in integers (AWQ/GPTQ), where elements are not
    weights. None when the folder has no safetensors.
    """
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    total_bytes, params, packed = 0, 0, False
    for path in files:
        try:
            with path.open("rb") as handle:
                (length,) = struct.unpack("<Q", handle.read(8))
                header = json.loads(handle.read(length))
        except (OSError, struct.error, ValueError) as exc:
            raise BadInput(f"{path}: not a readable safetensors file ({exc})") from None
        for key, tensor in header.items():
            if key == "__metadata__":
                continue
            start, end = tensor["data_offsets"]
            total_bytes += end - start
            elements = 1
            for size in tensor["shape"]:
                elements *= size
            params += elements
            packed = packed or tensor["dtype"] not in _FLOAT_TENSORS
    return total_bytes, None if packed else params
