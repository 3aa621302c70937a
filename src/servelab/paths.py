"""Where servelab keeps state, results and models."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "servelab"


def data_dir() -> Path:
    """User data dir (default database lives here); ``SERVELAB_HOME`` overrides."""
    root = os.environ.get("SERVELAB_HOME")
    path = Path(root) / "data" if root else Path(platformdirs.user_data_dir(APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def state_dir() -> Path:
    """Runtime state: engine logs and the registry of running engines."""
    root = os.environ.get("SERVELAB_HOME")
    path = Path(root) / "state" if root else Path(platformdirs.user_state_dir(APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _repo_root() -> Path | None:
    """The source checkout this package runs from, if any (editable installs)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src" / APP).is_dir():
            return parent
    return None


def models_dir() -> Path | None:
    """Folder of local models: ``SERVELAB_MODELS``, else ``../shared/models`` beside the repo."""
    env = os.environ.get("SERVELAB_MODELS")
    if env:
        return Path(env).expanduser().resolve()
    repo = _repo_root()
    if repo is not None:
        candidate = (repo.parent / "shared" / "models").resolve()
        if candidate.is_dir():
            return candidate
    return None
