"""Context depth: put N tokens of filler before a workload, counted by the server itself.

The count comes from ``usage.prompt_tokens`` of one-token chat completions, so it holds for any
OpenAI-compatible server and its own tokenizer and chat template.
"""

from __future__ import annotations

import random
from typing import Any

from servelab.client import chat
from servelab.errors import RunFailed
from servelab.workloads.prompts import Workload, make_workload

_WORDS = [
    "river",
    "stone",
    "lantern",
    "orchard",
    "winter",
    "harbor",
    "meadow",
    "copper",
    "violin",
    "thunder",
    "garden",
    "pencil",
    "market",
    "castle",
    "forest",
    "candle",
    "silver",
    "ladder",
    "window",
    "island",
    "bridge",
    "mirror",
    "feather",
    "valley",
    "engine",
    "blanket",
    "compass",
    "tower",
    "whistle",
    "basket",
    "anchor",
    "cotton",
    "planet",
    "marble",
    "rocket",
]
PROBE_WORDS = 500
SEED = 20240515


def filler_text(words: int) -> str:
    """Deterministic pseudo-random words (the same text for the same length, every time)."""
    rng = random.Random(SEED)
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def _depth_messages(workload: Workload, words: int) -> list[dict[str, Any]]:
    notes = "Background notes, not part of the task:\n" + filler_text(words)
    return [
        {"role": "user", "content": notes},
        {"role": "assistant", "content": "Noted."},
        *workload.messages,
    ]


def _prompt_tokens(
    url: str, model: str, messages: list[dict[str, Any]], api_key: str | None
) -> int:
    payload = {"model": model, "messages": messages, "max_tokens": 1, "temperature": 0}
    answer = chat(url, payload, timeout_s=600, api_key=api_key)
    tokens = (answer.get("usage") or {}).get("prompt_tokens")
    if not isinstance(tokens, int):
        raise RunFailed("the server reports no usage.prompt_tokens to count context", field="depth")
    return tokens


def with_depth(
    workload: Workload, depth: int, url: str, model: str, *, api_key: str | None = None
) -> Workload:
    """``workload`` preceded by ≈``depth`` tokens of filler (within ~1 %, as the server counts)."""
    if depth <= 0:
        return workload
    base = _prompt_tokens(url, model, workload.messages, api_key)
    probe = _prompt_tokens(url, model, _depth_messages(workload, PROBE_WORDS), api_key) - base
    words = max(1, round(depth * PROBE_WORDS / max(probe, 1)))
    added = _prompt_tokens(url, model, _depth_messages(workload, words), api_key) - base
    if added > 0 and abs(added - depth) > depth * 0.01:
        words = max(1, round(words * depth / added))
    messages = _depth_messages(workload, words)
    return make_workload(f"{workload.name}+depth{depth}", messages, f"{workload.id}+depth{depth}")
