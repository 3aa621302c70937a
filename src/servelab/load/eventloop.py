"""The event loop the load client runs on: uvloop where it is installed (Linux, macOS), whose
loop and socket reads cost a fraction of asyncio's own per read, else asyncio's default."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_name() -> str:
    """Which event loop ``run`` uses (shown with the client's figures)."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the fastest loop available."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)
