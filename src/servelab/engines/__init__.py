"""Engine adapters: the only place that knows an engine's flags, metrics and log texts."""

from __future__ import annotations

from servelab.engines.base import Diagnosis, Engine
from servelab.errors import BadInput


def get_engine(name: str) -> Engine:
    """The adapter for an engine name (vllm, llamacpp)."""
    if name == "vllm":
        from servelab.engines.vllm import VLLM

        return VLLM()
    if name == "llamacpp":
        from servelab.engines.llamacpp import LlamaCpp

        return LlamaCpp()
    raise BadInput(f"engine.name: unknown engine {name!r} (expected vllm or llamacpp)")


def all_engines() -> list[Engine]:
    return [get_engine("vllm"), get_engine("llamacpp")]


def _likely_first(log: str) -> list[Engine]:
    vllm, llamacpp = all_engines()
    llama_marks = ("llama_model_load", "llama-server", "llama_server", "gguf_init", "srv  ")
    if any(mark in log for mark in llama_marks) and "vllm" not in log.lower():
        return [llamacpp, vllm]
    return [vllm, llamacpp]


def diagnose_any(log: str) -> Diagnosis | None:
    """Classify a log without knowing which engine wrote it (the likelier engine first)."""
    for engine in _likely_first(log):
        found = engine.diagnose(log)
        if found is not None:
            return found
    return None


__all__ = ["Diagnosis", "Engine", "all_engines", "detect_engine", "diagnose_any", "get_engine"]


def detect_engine(base_url: str, timeout: float = 5.0) -> tuple[Engine | None, str | None]:
    """Which engine serves an endpoint, and its version (None, None when it does not say)."""
    for engine in all_engines():
        version = engine.server_version(base_url)
        if version is not None:
            return engine, version
    import httpx

    try:
        props = httpx.get(base_url + "/props", timeout=timeout)
        if props.status_code == 200 and "build_info" in props.text:
            return get_engine("llamacpp"), None
    except httpx.HTTPError:
        pass
    return None, None
