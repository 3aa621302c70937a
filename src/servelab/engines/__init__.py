"""Engine adapters: the only place that knows an engine's flags, metrics and log texts.

Adapters register themselves: each module in this folder decorates its class with
``@register``, and the first lookup imports every module here. A new engine is one new file.
"""

from __future__ import annotations

import importlib
import pkgutil

from servelab.engines.base import Diagnosis, Engine
from servelab.errors import BadInput

_REGISTRY: dict[str, type[Engine]] = {}
_discovered = False


def register(cls: type[Engine]) -> type[Engine]:
    """Class decorator: make an adapter known by its ``name``."""
    _REGISTRY[cls.name] = cls
    return cls


def _discover() -> None:
    """Import every module of this package once, so their adapters register."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


def engine_names() -> list[str]:
    """Registered engine names, in the adapters' listing order."""
    _discover()
    return sorted(_REGISTRY, key=lambda name: (_REGISTRY[name].rank, name))


def get_engine(name: str) -> Engine:
    """The adapter for an engine name (see ``engine_names()``)."""
    _discover()
    if name not in _REGISTRY:
        known = " or ".join(engine_names())
        raise BadInput(f"engine.name: unknown engine {name!r} (expected {known})")
    return _REGISTRY[name]()


def all_engines() -> list[Engine]:
    return [get_engine(name) for name in engine_names()]


def served_context_any(entry: dict) -> int | None:
    """The served context in one model-list entry, read by whichever adapter knows its fields."""
    for engine in all_engines():
        found = engine.served_context(entry)
        if found is not None:
            return found
    return None


def response_record_fields() -> tuple[str, ...]:
    """The streamed-response fields where engines put their own record of a generation."""
    return tuple(e.response_record_field for e in all_engines() if e.response_record_field)


def length_fields() -> tuple[str, ...]:
    """Request fields that ask for an output length: OpenAI's, then each engine's own."""
    own = (name for engine in all_engines() for name in engine.length_fields)
    return ("max_tokens", "max_completion_tokens", *dict.fromkeys(own))


def _likely_first(log: str) -> list[Engine]:
    engines = all_engines()
    return sorted(engines, key=lambda engine: not engine.wrote_log(log))


def diagnose_any(log: str) -> Diagnosis | None:
    """Classify a log without knowing which engine wrote it (the likelier engine first)."""
    for engine in _likely_first(log):
        found = engine.diagnose(log)
        if found is not None:
            return found
    return None


def detect_engine(
    base_url: str, headers: dict[str, str] | None = None
) -> tuple[Engine | None, str | None]:
    """Which engine serves an endpoint, and its version (None, None when it does not say)."""
    engines = all_engines()
    for engine in engines:
        version = engine.server_version(base_url, headers)
        if version is not None:
            return engine, version
    for engine in engines:
        if engine.recognizes(base_url, headers):
            return engine, None
    return None, None


__all__ = [
    "Diagnosis",
    "Engine",
    "all_engines",
    "detect_engine",
    "diagnose_any",
    "engine_names",
    "get_engine",
    "length_fields",
    "served_context_any",
    "register",
    "response_record_fields",
]
