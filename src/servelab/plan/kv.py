"""KV-cache arithmetic as the engine allocates it: per-layer pages, the sum, the largest fit.

vLLM (docs/design.md): ``page = 2 · block · kv_heads · head_dim · dtype_bytes``; a full-attention
layer holds ``ceil(L / block)`` pages, a sliding one
``ceil(min(window − 1 + max_num_batched_tokens, L) / block) + 1``; needed = Σ layers; the
estimated maximum length is a binary search on L. The token counts per layer come from the
engine's `KVLayout`.
"""

from __future__ import annotations

import math

from servelab.engines.memory import KVLayout
from servelab.plan.facts import Layer

# Upper bound for "how long could it be" searches (2^26 tokens).
SEARCH_LIMIT = 1 << 26


def token_bytes(layer: Layer, dtype_bytes: float) -> float:
    """K and V of one token in one layer: 2 · kv_heads · head_dim · dtype_bytes."""
    return 2 * layer.kv_heads * layer.head_dim * dtype_bytes


def page_bytes(layer: Layer, layout: KVLayout) -> float:
    """One block of tokens in one layer: 2 · block · kv_heads · head_dim · dtype_bytes."""
    return layout.block_size * token_bytes(layer, layout.dtype_bytes)


def layer_bytes(layer: Layer, length: int, layout: KVLayout) -> float:
    """What one layer allocates for a served length."""
    if layer.kind == "full":
        tokens = layout.full_tokens(length)
    elif layer.kind == "sliding":
        assert layer.window is not None
        tokens = layout.sliding_tokens(length, layer.window)
    else:
        return 0.0
    return tokens * token_bytes(layer, layout.dtype_bytes)


def needed_bytes(layers: list[Layer], length: int, layout: KVLayout) -> int:
    """Σ over layers of what each allocates for ``length`` tokens."""
    return math.ceil(sum(layer_bytes(layer, length, layout) for layer in layers))


def max_fit(layers: list[Layer], layout: KVLayout, available: float, upper: int) -> int:
    """The largest L ≤ upper whose KV fits in ``available`` bytes (0 if not even one token)."""
    if needed_bytes(layers, 1, layout) > available:
        return 0
    low, high = 1, upper
    while low < high:
        middle = (low + high + 1) // 2
        if needed_bytes(layers, middle, layout) <= available:
            low = middle
        else:
            high = middle - 1
    return low


def bytes_per_token(layers: list[Layer], dtype_bytes: float, kinds: tuple[str, ...]) -> float:
    """K and V of one token summed over the layers of the given kinds."""
    return sum(token_bytes(layer, dtype_bytes) for layer in layers if layer.kind in kinds)


def read_bytes(layers: list[Layer], context: int, dtype_bytes: float) -> float:
    """KV bytes one decode step reads at ``context`` tokens (sliding layers: the window)."""
    total = 0.0
    for layer in layers:
        if layer.kind == "full":
            total += context * token_bytes(layer, dtype_bytes)
        elif layer.kind == "sliding":
            assert layer.window is not None
            total += min(context, layer.window) * token_bytes(layer, dtype_bytes)
    return total


def shard(layers: list[Layer], tensor: int, pipeline: int) -> list[list[Layer]]:
    """The layers each pipeline stage holds, with KV heads split over tensor-parallel ranks.

    A rank keeps ``max(1, kv_heads // tensor)`` heads (heads are replicated when there are
    fewer than ranks); stages take contiguous, near-equal runs of layers.
    """
    split = [
        Layer(layer.kind, max(1, layer.kv_heads // tensor), layer.head_dim, layer.window)
        if layer.kv_heads
        else layer
        for layer in layers
    ]
    size, extra = divmod(len(split), pipeline)
    stages, start = [], 0
    for stage in range(pipeline):
        end = start + size + (1 if stage < extra else 0)
        stages.append(split[start:end])
        start = end
    return stages
