"""Shared fixtures: an isolated servelab home, the models folder, running the real CLI.

Tests marked ``llama`` need the real llama-server; they are skipped where it is not built.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import RunCli, llama_server_available, models_root


def pytest_configure(config: pytest.Config) -> None:
    """A runner may start the suite with SIGINT ignored (a background job of a script); the
    tests that interrupt a servelab process need it delivered, and children inherit SIG_IGN."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if llama_server_available():
        return
    skip = pytest.mark.skip(reason="llama-server not built (pip install -e '.[llama]')")
    for item in items:
        if item.get_closest_marker("llama"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def servelab_home(tmp_path, monkeypatch):
    """Every test gets its own state/data dirs and database."""
    home = tmp_path / "servelab-home"
    monkeypatch.setenv("SERVELAB_HOME", str(home))
    monkeypatch.setenv("SERVELAB_MODELS", str(models_root()))
    monkeypatch.delenv("SERVELAB_DB", raising=False)
    monkeypatch.delenv("SERVELAB_API_KEY", raising=False)
    return home


def _run_cli(
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
def run_cli() -> RunCli:
    """``run_cli(*args, timeout=, env=, input_text=)``: the real CLI in a subprocess."""
    return _run_cli


@pytest.fixture
def models_dir() -> Path:
    """The folder the test models (stories260k, …) are read from."""
    return models_root()
