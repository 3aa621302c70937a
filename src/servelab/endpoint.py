"""The server under test as the client sees it: its API key, the bearer header, its model list.

The only module that sets the bearer-token header and, outside ``engines/``, the only one
that reads the model list. The API key follows one rule (docs/design.md): the ``--api-key``
value, else ``SERVELAB_API_KEY``, else the variable the recipe names in ``server.api_key_env``,
else a key given in the URL's user-info. A key is never printed or stored.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from servelab.engines import served_context_any
from servelab.errors import RunFailed
from servelab.recipe import Recipe

KEY_ENV = "SERVELAB_API_KEY"
MODELS_PATH = "/v1/models"


def resolve_api_key(
    flag: str | None, recipe: Recipe | None = None, url_key: str | None = None
) -> str | None:
    """The key to send, by the one rule: ``flag``, else SERVELAB_API_KEY, else the recipe's
    ``server.api_key_env`` variable, else the URL's user-info key."""
    recipe_env = recipe.server.api_key_env if recipe is not None else None
    return (
        flag
        or os.environ.get(KEY_ENV)
        or (os.environ.get(recipe_env) if recipe_env else None)
        or url_key
    )


def auth_headers(api_key: str | None) -> dict[str, str]:
    """The bearer header for a key; {} without one."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def model_entries(http: httpx.Client, base: str = "") -> list[dict[str, Any]]:
    """The model list's entries (``http`` carries the key); [] unless it answers a 200 list.
    httpx errors propagate."""
    response = http.get(base + MODELS_PATH)
    if response.status_code != 200:
        return []
    try:
        data = response.json().get("data")
    except (ValueError, AttributeError):
        return []
    return [entry for entry in data or [] if isinstance(entry, dict)]


def served_context(entries: list[dict[str, Any]], model: str) -> int | None:
    """The context the list reports for ``model`` (or for its only entry), read by the engines'
    adapters."""
    for entry in entries:
        if entry.get("id") == model or len(entries) == 1:
            return served_context_any(entry)
    return None


def first_served(http: httpx.Client, base: str = "") -> tuple[str, int | None] | None:
    """(id, served context) of the first model listed; None while none is listed."""
    entries = model_entries(http, base)
    if not entries:
        return None
    return entries[0].get("id", ""), served_context_any(entries[0])


def first_model(url: str, api_key: str | None, timeout: float = 10.0) -> str:
    """The first model an endpoint serves; RunFailed (one line, with the fix) otherwise."""
    where = url.rstrip("/") + MODELS_PATH
    try:
        response = httpx.get(where, headers=auth_headers(api_key), timeout=timeout)
    except httpx.HTTPError as exc:
        raise RunFailed(f"{url}: unreachable ({type(exc).__name__}: {exc})") from None
    if response.status_code in (401, 403):
        raise RunFailed(
            f"{where} answered HTTP {response.status_code}: the server wants an API key; "
            f"pass {{api_key}} (or set {KEY_ENV})",
            mentions=["api_key"],
        )
    if response.status_code != 200:
        raise RunFailed(
            f"{where} answered HTTP {response.status_code}; pass {{model}}", mentions=["model"]
        )
    try:
        return response.json()["data"][0]["id"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise RunFailed(f"{where}: no model listed; pass {{model}}", mentions=["model"]) from None
