"""Shared helpers for the stand-in generator: paths, seeded weights, file writing."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

SEED = 0
STORIES_DIR = "stories260k"


def models_root() -> Path:
    """SERVELAB_MODELS, where stories260k lives and where stand-ins are written."""
    root = os.environ.get("SERVELAB_MODELS")
    if not root:
        raise SystemExit("set SERVELAB_MODELS to the folder that holds stories260k/")
    return Path(root).expanduser().resolve()


def stories_hf_dir(root: Path) -> Path:
    """The real stories260k HF folder (its tokenizer is shared by every stand-in)."""
    folder = root / STORIES_DIR / "hf"
    if not (folder / "tokenizer.json").is_file():
        raise SystemExit(
            f"{folder}/tokenizer.json not found: SERVELAB_MODELS must hold stories260k/"
        )
    return folder


def stories_gguf(root: Path) -> Path:
    path = root / STORIES_DIR / "stories260k.gguf"
    if not path.is_file():
        raise SystemExit(f"{path} not found: SERVELAB_MODELS must hold stories260k/")
    return path


def fresh_dir(path: Path) -> Path:
    """An empty folder at path (an earlier stand-in there is replaced)."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def rng(name: str) -> np.random.Generator:
    """A generator seeded from the stand-in's name: every run writes the same weights."""
    return np.random.default_rng([SEED, *name.encode()])


def folder_mib(path: Path) -> float:
    """Size of a file or folder in MiB."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20
