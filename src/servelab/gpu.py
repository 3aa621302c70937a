"""GPUs on this machine through NVML (nvidia-ml-py); an empty list where NVML is absent."""

from __future__ import annotations

import contextlib
from typing import Any

GIB = 1024**3


def _text(value: Any) -> str:
    """NVML returns bytes in older bindings and str in newer ones."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def describe_gpu(index: int, name: Any, total_bytes: int, driver: Any) -> dict[str, Any]:
    """One GPU as servelab records it."""
    return {
        "index": index,
        "name": _text(name).strip(),
        "memory_gib": round(total_bytes / GIB, 2),
        "driver": _text(driver).strip(),
    }


def detect_gpus() -> list[dict[str, Any]]:
    """[{index, name, memory_gib, driver}] per NVIDIA GPU; [] without a driver or NVML."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except (pynvml.NVMLError, OSError):
        return []
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        found = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            found.append(
                describe_gpu(index, pynvml.nvmlDeviceGetName(handle), memory.total, driver)
            )
        return found
    except pynvml.NVMLError:
        return []
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()


def visible_gpus(
    gpus: list[dict[str, Any]], cuda_visible: str | None, count: int | None = None
) -> list[dict[str, Any]]:
    """The GPUs a server started with CUDA_VISIBLE_DEVICES=cuda_visible uses: the listed indices
    (UUIDs or other forms keep them all), then the first ``count`` of those when count is known."""
    if cuda_visible is not None and cuda_visible.strip():
        parts = [part.strip() for part in cuda_visible.split(",")]
        if all(part.isdigit() for part in parts):
            by_index = {gpu["index"]: gpu for gpu in gpus}
            gpus = [by_index[int(part)] for part in parts if int(part) in by_index]
    return gpus if count is None else gpus[:count]
