"""Sizes a manifest asks for, from the model's weight bytes (plan stage; no GPU needed):
the model cache volume and the server's CPU and memory requests."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from servelab.errors import ServelabError
from servelab.export.container import MODELS_MOUNT, ContainerSpec
from servelab.export.options import ExportOptions
from servelab.plan.facts import model_facts
from servelab.plan.weights import weight_memory
from servelab.recipe import Recipe

GIB = 1024**3
FALLBACK_CACHE = "200Gi"
HF_TOKEN = "HF_TOKEN"  # read by the hub client inside the engine image for gated models


@dataclass(frozen=True)
class Sizing:
    """Requests for one server: cache volume, memory and CPU, and how each was derived."""

    cache_size: str
    memory: str
    cpu: str
    how: str


def weight_gib(recipe: Recipe) -> float | None:
    """The model's weight GiB (exact for local files), None when unknown before launch."""
    try:
        weights = weight_memory(model_facts(recipe)).bytes
    except ServelabError:
        return None
    return weights / GIB if weights else None


def sizing_for(recipe: Recipe, gpus: int) -> Sizing:
    """cache = ceil(2 × weights + 1) Gi (checkpoint, a drafter, tokenizer files);
    memory = ceil(weights + 4) Gi on a GPU (load buffers) or ceil(1.2 × weights + 1) Gi on the
    CPU (weights and KV in host memory); CPU = 2 cores (GPU) or 1."""
    weights = weight_gib(recipe)
    cpu = "2" if gpus else "1"
    if weights is None:
        return Sizing(FALLBACK_CACHE, "16Gi", cpu, "weights unknown before launch: defaults")
    cache = math.ceil(2 * weights + 1)
    memory = math.ceil(weights + 4) if gpus else math.ceil(1.2 * weights + 1)
    how = f"from {weights:.2f} GiB of weights: cache 2 × w + 1, memory " + (
        "w + 4 GiB" if gpus else "1.2 × w + 1 GiB"
    )
    return Sizing(f"{cache}Gi", f"{memory}Gi", cpu, how)


def resources_for(opts: ExportOptions, gpus: int) -> dict[str, Any]:
    """A container's resources: CPU and memory requests from the sizing, GPUs as a limit."""
    resources: dict[str, Any] = {}
    if opts.sizing is not None:
        resources["requests"] = {"cpu": opts.sizing.cpu, "memory": opts.sizing.memory}
    if gpus:
        resources["limits"] = {"nvidia.com/gpu": gpus}
    return resources


def sizing_notes(opts: ExportOptions) -> list[str]:
    """The comment line saying what was requested and why."""
    if opts.sizing is None:
        return []
    return [
        f"Requests: cache volume {opts.cache_size}, memory {opts.sizing.memory}, CPU "
        f"{opts.sizing.cpu} ({opts.sizing.how})."
    ]


def hub_env(spec: ContainerSpec) -> list[str]:
    """Environment passed through from the user: the adapter's, plus HF_TOKEN (gated models)
    when the model comes from the hub rather than the mounted models folder."""
    names = list(spec.passthrough_env)
    from_hub = not any(mount.path == MODELS_MOUNT for mount in spec.mounts)
    if from_hub and HF_TOKEN not in names:
        names.append(HF_TOKEN)
    return names


def image_notes(spec: ContainerSpec) -> list[str]:
    """A warning when the image is an unqualified placeholder (no registry or namespace)."""
    if "/" in spec.image.split(":", 1)[0]:
        return []
    return [
        f"PLACEHOLDER IMAGE: {spec.image} is not a published image; set engine.image in the "
        "recipe to a real, fully qualified server image (e.g. the llama.cpp project's "
        "ggml-org/llama.cpp:server on its registry) before running this."
    ]
