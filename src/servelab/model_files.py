"""Resolve a recipe's model reference to something an engine can load."""

from __future__ import annotations

from pathlib import Path

from servelab.errors import BadInput
from servelab.paths import models_dir
from servelab.recipe import ModelRef


class ModelNotFound(BadInput):
    """A recipe's model is neither on disk nor downloadable."""


def _looks_like_hub_id(text: str) -> bool:
    parts = text.split("/")
    return len(parts) == 2 and all(parts) and not text.startswith((".", "/", "~"))


def local_path(ref: ModelRef) -> Path | None:
    """The model on disk, if it is there (absolute path, or under SERVELAB_MODELS)."""
    candidates: list[Path] = []
    raw = Path(ref.id).expanduser()
    if raw.is_absolute():
        candidates.append(raw)
    else:
        root = models_dir()
        if root is not None:
            candidates.append(root / ref.id)
        candidates.append(Path.cwd() / ref.id)
    for base in candidates:
        path = base / ref.file if ref.file else base
        if path.exists():
            return path.resolve()
    return None


def resolve(ref: ModelRef, *, needs_file: bool) -> str:
    """A path (or, for engines that download themselves, a hub id) for the engine.

    ``needs_file``: the engine needs a local file (llama.cpp GGUF), so a hub reference is
    downloaded through huggingface_hub's cache.
    """
    found = local_path(ref)
    if found is not None:
        return str(found)
    if ref.hub_repo and ref.hub_file and needs_file:
        return _download(ref)
    if not needs_file and _looks_like_hub_id(ref.id) and not ref.file:
        return ref.id
    where = models_dir()
    hint = (
        f"looked under SERVELAB_MODELS={where}"
        if where
        else "set SERVELAB_MODELS to the folder that holds it"
    )
    name = f"{ref.id}/{ref.file}" if ref.file else ref.id
    raise ModelNotFound(f"model {name} not found ({hint}; or give an absolute path in model.id)")


def _download(ref: ModelRef) -> str:
    try:
        from huggingface_hub import hf_hub_download

        return hf_hub_download(ref.hub_repo, ref.hub_file, revision=ref.revision)
    except Exception as exc:  # offline, missing repo, no permission
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        local = f"{ref.id}/{ref.file}" if ref.file else ref.id
        raise ModelNotFound(
            f"model {local} is not under SERVELAB_MODELS and the hub download of "
            f"{ref.hub_repo}/{ref.hub_file} failed ({reason}); set SERVELAB_MODELS to a folder "
            f"holding {local}"
        ) from None


def describe(ref: ModelRef) -> str:
    """How a model reference reads when it cannot (or need not) be resolved."""
    found = local_path(ref)
    if found is not None:
        return str(found)
    return f"{ref.id}/{ref.file}" if ref.file else ref.id
