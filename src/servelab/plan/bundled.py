"""Facts bundled for the post's models, for when no config.json or GGUF is at hand.

Every value the project could not confirm against the model's own config is listed in
``unconfirmed``; the Gemma 4 attention layout is confirmed by vLLM's own KV estimate
(262144 tokens → 3.38 GiB, 2.82 GiB → 203584).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from servelab.plan.facts import Layer, ModelFacts
from servelab.recipe import ModelRef


def _every(count: int, period: int, full: Layer, other: Layer) -> list[Layer]:
    """``count`` layers where every ``period``-th one is ``full`` and the rest ``other``."""
    return [full if (index + 1) % period == 0 else other for index in range(count)]


def _gemma4_26b_a4b() -> ModelFacts:
    return ModelFacts(
        name="Gemma 4 26B-A4B",
        architecture="Gemma4ForConditionalGeneration",
        layers=_every(30, 6, Layer("full", 2, 512), Layer("sliding", 8, 256, 1024)),
        hidden_size=2816,
        vocab_size=262144,
        native_context=131072,
        total_params=25.2e9,
        active_params=3.8e9,
        experts=128,
        experts_per_token=8,
        dtype="bf16",
        source="bundled facts (Gemma 4 26B-A4B)",
        sources={
            "layers": "docs/design.md; matches vLLM's KV estimate in the post",
            "native_context": "the post (128K native)",
            "active_params": "the post (3.8B active)",
            "total_params": "published variant table (the post says 26B)",
        },
        unconfirmed=[
            "hidden_size",
            "vocab_size",
            "native_context",
            "total_params",
            "experts",
            "experts_per_token",
        ],
    )


def _qwen36_35b_a3b() -> ModelFacts:
    return ModelFacts(
        name="Qwen 3.6 35B-A3B",
        architecture="Qwen3_5MoeForConditionalGeneration",
        layers=_every(40, 4, Layer("full", 2, 256), Layer("state")),
        hidden_size=2048,
        vocab_size=248320,
        native_context=262144,
        total_params=35e9,
        active_params=3e9,
        experts=256,
        experts_per_token=8,
        dtype="bf16",
        source="bundled facts (Qwen 3.6 35B-A3B, best known)",
        sources={"layers": "3 Gated DeltaNet : 1 gated attention, as published for the family"},
        unconfirmed=[
            "layers",
            "hidden_size",
            "vocab_size",
            "native_context",
            "total_params",
            "active_params",
            "experts",
            "experts_per_token",
        ],
    )


def _qwen36_27b() -> ModelFacts:
    return ModelFacts(
        name="Qwen 3.6 27B",
        architecture="Qwen3_5ForConditionalGeneration",
        layers=_every(64, 4, Layer("full", 4, 256), Layer("state")),
        hidden_size=5120,
        vocab_size=248320,
        native_context=262144,
        total_params=27e9,
        active_params=27e9,
        dtype="bf16",
        source="bundled facts (Qwen 3.6 27B, best known)",
        sources={"layers": "3 Gated DeltaNet : 1 gated attention, as published for the family"},
        unconfirmed=[
            "layers",
            "hidden_size",
            "vocab_size",
            "native_context",
            "total_params",
        ],
    )


_NEMOTRON_PATTERN = "MEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEMEM*EMEMEMEME"


def _nemotron_elastic_30b_a3b() -> ModelFacts:
    kinds = {"*": Layer("full", 2, 128), "M": Layer("state"), "E": Layer("none")}
    return ModelFacts(
        name="Nemotron Elastic 30B-A3B",
        architecture="NemotronHForCausalLM",
        layers=[kinds[char] for char in _NEMOTRON_PATTERN],
        hidden_size=2688,
        vocab_size=131072,
        native_context=262144,
        total_params=30e9,
        active_params=3e9,
        experts=128,
        experts_per_token=6,
        dtype="bf16",
        source="bundled facts (Nemotron Elastic 30B-A3B, best known)",
        sources={
            "layers": "the 30B-A3B Nemotron-H hybrid layout (Mamba-2 / MoE / 6 attention)",
            "total_params": "the model's name",
            "active_params": "the model's name",
        },
        unconfirmed=[
            "layers",
            "hidden_size",
            "vocab_size",
            "native_context",
            "total_params",
            "active_params",
            "experts",
            "experts_per_token",
        ],
    )


# Longest keys first so "qwen3.6-35b-a3b" is not taken for another Qwen 3.6.
_BUNDLED: dict[str, Callable[[], ModelFacts]] = {
    "nemotron-elastic-30b-a3b": _nemotron_elastic_30b_a3b,
    "qwen3.6-35b-a3b": _qwen36_35b_a3b,
    "gemma-4-26b-a4b": _gemma4_26b_a4b,
    "qwen3.6-27b": _qwen36_27b,
}


def _normalise(text: str) -> str:
    return re.sub(r"[\s_]+", "-", text.lower())


def lookup(ref: ModelRef) -> ModelFacts | None:
    """Bundled facts whose key appears in the model's id or hub repo."""
    names = [ref.id, ref.hub_repo or "", ref.file or ""]
    for key, make in _BUNDLED.items():
        if any(key in _normalise(name) for name in names):
            return make()
    return None


def bundled_keys() -> list[str]:
    return list(_BUNDLED)
