"""Shared fixtures: an isolated servelab home, the models folder, running the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"


def models_root() -> Path:
    env = os.environ.get("SERVELAB_MODELS")
    return Path(env) if env else (REPO.parent / "shared" / "models").resolve()


@pytest.fixture(autouse=True)
def servelab_home(tmp_path, monkeypatch):
    """Every test gets its own state/data dirs and database."""
    home = tmp_path / "servelab-home"
    monkeypatch.setenv("SERVELAB_HOME", str(home))
    monkeypatch.setenv("SERVELAB_MODELS", str(models_root()))
    monkeypatch.delenv("SERVELAB_DB", raising=False)
    monkeypatch.delenv("SERVELAB_API_KEY", raising=False)
    return home


def run_cli(
    *args: str, timeout: float = 300, env: dict | None = None, input_text: str | None = None
) -> subprocess.CompletedProcess:
    """Run `python -m servelab ARGS` as a real subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "servelab", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        input=input_text,
    )


@pytest.fixture
def cli():
    return run_cli


def llama_server_available() -> bool:
    from servelab.engines import get_engine

    return get_engine("llamacpp").find_binary() is not None


requires_llama = pytest.mark.skipif(
    not llama_server_available(), reason="llama-server not built (run scripts/install.sh)"
)


def pid_alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
