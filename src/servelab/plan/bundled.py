"""Facts bundled for the post's models (``data/model-facts.yaml``), for when no config.json or
GGUF is at hand; the file says which values are unconfirmed and where each came from."""

from __future__ import annotations

import copy
import functools
import re
from importlib import resources
from typing import Any

from servelab import safe_yaml
from servelab.plan.facts import Layer, ModelFacts
from servelab.recipe import ModelRef


@functools.cache
def _bundled() -> dict[str, dict[str, Any]]:
    """Key → facts as written, in the file's order (longest keys first)."""
    path = resources.files("servelab") / "data" / "model-facts.yaml"
    return safe_yaml.load(path.read_text(encoding="utf-8"), "model-facts.yaml")


def _layers(spec: dict[str, Any]) -> list[Layer]:
    """The layers in order: ``pattern`` (one letter a layer, named in ``kinds``) × ``repeat``."""
    kinds = {letter: Layer(*fields) for letter, fields in spec["kinds"].items()}
    return [kinds[letter] for letter in spec["pattern"] * spec.get("repeat", 1)]


def _facts(entry: dict[str, Any]) -> ModelFacts:
    values = copy.deepcopy(entry)  # callers add to sources and unconfirmed
    layers = _layers(values.pop("layers"))
    return ModelFacts(**values, layers=layers)


def _normalise(text: str) -> str:
    return re.sub(r"[\s_]+", "-", text.lower())


def lookup(ref: ModelRef) -> ModelFacts | None:
    """Bundled facts whose key appears in the model's id or hub repo."""
    names = [ref.id, ref.hub_repo or "", ref.file or ""]
    for key, entry in _bundled().items():
        if any(key in _normalise(name) for name in names):
            return _facts(entry)
    return None


def bundled_keys() -> list[str]:
    return list(_bundled())
