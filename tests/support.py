"""Plain helpers tests need at import time (paths, process checks); fixtures live in conftest."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"

RunCli = Callable[..., subprocess.CompletedProcess]
"""The type of the ``run_cli`` fixture."""


def models_root() -> Path:
    """SERVELAB_MODELS, else the shared models folder next to the repository."""
    env = os.environ.get("SERVELAB_MODELS")
    return Path(env) if env else (REPO.parent / "shared" / "models").resolve()


def llama_server_available() -> bool:
    from servelab.engines import get_engine

    return get_engine("llamacpp").find_binary() is not None


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


def fake_engine_pids(log: Path, timeout: float = 30) -> tuple[int, int]:
    """(engine, child) pids the fake slow engine writes to its log once it runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists():
            match = re.search(r"fake-engine pid (\d+) child (\d+)", log.read_text())
            if match:
                return int(match.group(1)), int(match.group(2))
        time.sleep(0.1)
    raise AssertionError("the fake engine never started")
