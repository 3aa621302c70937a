"""Model facts the plan needs, from a local config.json or GGUF, the hub, or bundled facts."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from servelab import model_files
from servelab.errors import BadInput, ServelabError
from servelab.recipe import ModelRef, Recipe

LayerKind = Literal["full", "sliding", "state", "none"]


@dataclass(frozen=True)
class Layer:
    """One decoder layer as the KV cache sees it.

    ``full``/``sliding`` attention keep K and V per token; ``state`` layers (Mamba, linear
    attention) keep a fixed-size state per sequence; ``none`` layers (MLP/MoE only) keep nothing.
    """

    kind: LayerKind
    kv_heads: int = 0
    head_dim: int = 0
    window: int | None = None


@dataclass
class ModelFacts:
    """What servelab knows about a model, and where each value came from."""

    name: str
    architecture: str
    layers: list[Layer]
    hidden_size: int | None = None
    vocab_size: int | None = None
    native_context: int | None = None
    total_params: float | None = None
    active_params: float | None = None
    experts: int | None = None
    experts_per_token: int | None = None
    dtype: str | None = None
    quantization: str | None = None
    weight_bits: float | None = None
    weight_bytes: int | None = None
    rope_scaling: dict[str, Any] | None = None
    source: str = ""
    sources: dict[str, str] = field(default_factory=dict)
    unconfirmed: list[str] = field(default_factory=list)

    def layer_groups(self) -> list[dict[str, Any]]:
        """Layers grouped by (kind, heads, dim, window), in first-seen order."""
        counts = Counter(self.layers)
        return [{**asdict(layer), "count": count} for layer, count in counts.items()]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("layers")
        data["layer_groups"] = self.layer_groups()
        data["num_layers"] = len(self.layers)
        return data


def normalise_dtype(value: Any) -> str | None:
    """Checkpoint dtype names → bf16, f16, f32 (None when unknown)."""
    text = str(value or "").lower().removeprefix("torch.")
    return {
        "bfloat16": "bf16",
        "bf16": "bf16",
        "float16": "f16",
        "half": "f16",
        "f16": "f16",
        "fp16": "f16",
        "float32": "f32",
        "float": "f32",
        "f32": "f32",
        "fp32": "f32",
    }.get(text)


def model_facts(recipe: Recipe) -> ModelFacts:
    """Facts for the recipe's target model: local files first, then bundled facts, then the hub.

    Bundled facts (the post's models) come before the hub so a plan reads the same online and
    offline; any local config.json or GGUF wins over both.
    """
    facts = facts_for_ref(recipe.model)
    if recipe.model.quantization:
        facts.quantization = recipe.model.quantization
        facts.sources["quantization"] = "recipe model.quantization"
    return facts


def facts_for_ref(ref: ModelRef) -> ModelFacts:
    """Facts for one model reference (see `model_facts`)."""
    from servelab.plan import bundled, readers

    local = model_files.local_path(ref)
    if local is not None:
        return readers.read_local(local)
    found = bundled.lookup(ref)
    if found is not None:
        return found
    name = f"{ref.id}/{ref.file}" if ref.file else ref.id
    if ref.file or not _looks_like_hub_id(ref.id):
        raise BadInput(
            f"model {name}: no local file (SERVELAB_MODELS={model_files.models_dir()}) and no "
            "bundled facts; give a path to a config.json folder or a .gguf file in model.id"
        )
    return readers.read_hub(ref)


def _looks_like_hub_id(text: str) -> bool:
    parts = text.split("/")
    return len(parts) == 2 and all(parts) and not text.startswith((".", "/", "~"))


def native_context(recipe: Recipe) -> int | None:
    """The model's trained context (max_position_embeddings); None when it cannot be known."""
    try:
        return model_facts(recipe).native_context
    except (ServelabError, OSError, ValueError):
        return None


def load_json(path: Path) -> dict[str, Any]:
    """A JSON object from a file; malformed or missing → BadInput naming the file."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"{path}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read ({exc})") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a JSON object of model settings")
    return data
