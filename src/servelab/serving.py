"""An engine for a recipe: the one `servelab up` already started, else a launched one.

`bench`, `check` and `demo` go through here so that a recipe that is up is never started a
second time (a second vLLM on the same GPU, a second log over the first one's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from servelab.launch import Endpoint, launch
from servelab.recipe import Recipe
from servelab.registry import running


def running_endpoint(name: str) -> Endpoint | None:
    """The ready engine `servelab up` started under this name, if any."""
    for record in running():
        if record["name"] == name and record["ready"]:
            fields = {key: record[key] for key in Endpoint.__dataclass_fields__ if key in record}
            return Endpoint(**fields)
    return None


@contextmanager
def serving(
    recipe: Recipe, *, progress: Callable[[str], None] | None = None, **kwargs: Any
) -> Iterator[Endpoint]:
    """``with serving(recipe) as ep:`` — reuse the engine that is up (left running), or launch
    one that lives exactly as long as the block."""
    found = running_endpoint(recipe.name)
    if found is not None:
        if progress:
            progress(f"using {recipe.name} already up at {found.url} (pid {found.pid})")
        yield found
        return
    with launch(recipe, progress=progress, **kwargs) as endpoint:
        yield endpoint


def endpoint_identity(url: str, model: str, engine_version: str | None) -> tuple[str, str]:
    """Stack name and version for a bench of a server servelab did not start (no --name):
    the model id's last path part and the server's host:port (two servers serving one file
    stay apart), and the engine's version as the server reports it."""
    where = urlsplit(url)
    base = PurePosixPath(model.rstrip("/")).name or model or "model"
    port = where.port or (443 if where.scheme == "https" else 80)
    return f"{base} ({where.hostname}:{port})", engine_version or "unversioned"
