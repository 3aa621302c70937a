"""Memory bandwidth and size of common GPUs, matched by a user's name or NVML's."""

from __future__ import annotations

import re
from dataclasses import dataclass

from servelab.errors import BadInput


@dataclass(frozen=True)
class GpuSpec:
    """Nominal figures: bandwidth in GB/s (10⁹ bytes), memory in GiB."""

    key: str
    name: str
    bandwidth_gbs: float
    memory_gib: float
    tokens: tuple[str, ...]


# Data-sheet figures; memory as NVML reports it where known (an H100 80GB shows 79.65 GiB).
GPUS: tuple[GpuSpec, ...] = (
    GpuSpec("rtx-5090-laptop", "GeForce RTX 5090 Laptop GPU", 896, 24, ("5090", "laptop")),
    GpuSpec("rtx-5090", "GeForce RTX 5090", 1792, 32, ("5090",)),
    GpuSpec("rtx-4090-laptop", "GeForce RTX 4090 Laptop GPU", 576, 16, ("4090", "laptop")),
    GpuSpec("rtx-4090", "GeForce RTX 4090", 1008, 24, ("4090",)),
    GpuSpec("rtx-3090", "GeForce RTX 3090", 936, 24, ("3090",)),
    GpuSpec("a100-40gb", "A100 40GB", 1555, 40, ("a100", "40gb")),
    GpuSpec("a100-80gb-pcie", "A100 80GB PCIe", 1935, 80, ("a100", "80gb", "pcie")),
    GpuSpec("a100-80gb", "A100 80GB SXM", 2039, 80, ("a100",)),
    GpuSpec("h100-pcie", "H100 PCIe", 2000, 79.65, ("h100", "pcie")),
    GpuSpec("h100-nvl", "H100 NVL", 3900, 94, ("h100", "nvl")),
    GpuSpec("h100-sxm", "H100 SXM (80GB HBM3)", 3350, 79.65, ("h100",)),
    GpuSpec("h200", "H200", 4800, 141, ("h200",)),
    GpuSpec("l40s", "L40S", 864, 48, ("l40s",)),
    GpuSpec("l4", "L4", 300, 24, ("l4",)),
)


def _compact(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def match_gpu(name: str) -> GpuSpec | None:
    """The table entry whose tokens all appear in ``name``; the most specific one wins."""
    compact = _compact(name)
    best: GpuSpec | None = None
    best_score = 0
    for spec in GPUS:
        if compact == _compact(spec.key):
            return spec
        if all(token in compact for token in spec.tokens):
            score = sum(len(token) for token in spec.tokens)
            if score > best_score:
                best, best_score = spec, score
    return best


def gpu_by_name(name: str) -> GpuSpec:
    """Like `match_gpu`, but an unknown name is a one-line BadInput listing the table."""
    found = match_gpu(name)
    if found is None:
        known = ", ".join(spec.key for spec in GPUS)
        raise BadInput(f"unknown GPU (known: {known})", field="gpu", value=repr(name))
    return found
