"""The neutral shape of an engine's KV cache and memory: what `servelab plan` computes with.

Each adapter builds its own ``KVLayout`` (``Engine.kv_layout``); this module holds only the
shape and the helpers that read a recipe's verbatim flags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from servelab.errors import BadInput

GIB = 1024**3
# Bytes per element of a model's own weight dtype (what an "auto" KV cache follows).
MODEL_DTYPE_BYTES = {"f32": 4.0, "bf16": 2.0, "f16": 2.0}


@dataclass(frozen=True)
class KVLayout:
    """What an engine allocates per attention layer for a served length.

    ``paged``: the cache is allocated in blocks per sequence (a sliding layer holds the window,
    the step's batch and one spare block); otherwise one pool of ``length · sequences`` token
    slots that a sliding layer caps at ``window · sequences + batched_tokens``.
    """

    engine: str
    paged: bool
    block_size: int
    batched_tokens: int
    batched_tokens_source: str
    kv_dtype: str
    dtype_bytes: float
    sequences: int
    default_gpu_util: float
    overhead_gib: float
    overhead_note: str
    full_rule: str
    sliding_rule: str

    def full_tokens(self, length: int) -> int:
        """Token slots a full-attention layer holds for ``length``."""
        if self.paged:
            return math.ceil(length / self.block_size) * self.block_size
        return length * self.sequences

    def sliding_tokens(self, length: int, window: int) -> int:
        """Token slots a sliding-window layer holds for ``length``."""
        if self.paged:
            held = min(window - 1 + self.batched_tokens, length)
            return (math.ceil(held / self.block_size) + 1) * self.block_size
        context = length * self.sequences
        return min(window * self.sequences + self.batched_tokens, context)


def flag_value(args: list[str], flag: str) -> str | None:
    """The value of ``flag`` in verbatim extra args (``--f v`` or ``--f=v``)."""
    for index, arg in enumerate(args):
        if arg == flag and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def int_flag(name: str, args: list[str], flag: str) -> int | None:
    """An integer flag from a recipe's extra args (``name``: the recipe, for the error)."""
    value = flag_value(args, flag)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise BadInput(f"{name}: extra_args {flag} {value!r} is not an integer") from None


def kv_layout(recipe, model_dtype: str | None) -> KVLayout:
    """The KV layout the recipe's engine will use (``model_dtype``: bf16, f16, f32 or None)."""
    from servelab.engines import get_engine

    return get_engine(recipe.engine.name).kv_layout(recipe, model_dtype)
