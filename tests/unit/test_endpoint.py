"""The endpoint owner: one API-key rule, the bearer header, the model list and its errors."""

from __future__ import annotations

import httpx
import pytest

from servelab.endpoint import (
    KEY_ENV,
    auth_headers,
    first_model,
    first_served,
    model_entries,
    resolve_api_key,
    served_context,
)
from servelab.errors import RunFailed
from servelab.recipe import Recipe
from tests.fakes.scripted_server import ScriptedServer
from tests.fakes.squatter import Squatter


def _keyed_recipe() -> Recipe:
    return Recipe.model_validate(
        {
            "name": "keyed",
            "engine": {"name": "llamacpp"},
            "model": {"id": "stories260k", "file": "stories260K.gguf"},
            "server": {"api_key_env": "SL_RECIPE_KEY"},
        }
    )


def test_the_key_rule_flag_then_env_then_recipe_then_url(monkeypatch):
    recipe = _keyed_recipe()
    monkeypatch.setenv(KEY_ENV, "from-env")
    monkeypatch.setenv("SL_RECIPE_KEY", "from-recipe")
    assert resolve_api_key("from-flag", recipe, "from-url") == "from-flag"
    assert resolve_api_key(None, recipe, "from-url") == "from-env"
    monkeypatch.delenv(KEY_ENV)
    assert resolve_api_key(None, recipe, "from-url") == "from-recipe"
    monkeypatch.delenv("SL_RECIPE_KEY")
    assert resolve_api_key(None, recipe, "from-url") == "from-url"
    assert resolve_api_key(None, recipe) is None
    assert resolve_api_key(None) is None


def test_the_bearer_header_only_with_a_key():
    assert auth_headers("sk-1") == {"Authorization": "Bearer sk-1"}
    assert auth_headers(None) == {} and auth_headers("") == {}


def test_the_first_model_and_its_served_context():
    with ScriptedServer(model="m1", max_model_len=2048) as server:
        assert first_model(server.url, None) == "m1"
        with httpx.Client(timeout=5.0) as http:
            assert first_served(http, server.url) == ("m1", 2048)
            entries = model_entries(http, server.url)
        assert served_context(entries, "m1") == 2048
        assert served_context(entries + [{"id": "m2"}], "m2") is None


def test_a_keyed_server_is_read_with_its_key_and_refuses_without():
    with Squatter(key="sk-right") as server:
        assert first_model(server.url, "sk-right") == "someone-else"
        with pytest.raises(RunFailed) as refused:
            first_model(server.url, "sk-wrong")
        assert "HTTP 401" in str(refused.value) and "{api_key}" not in str(refused.value)
        assert "api_key" in str(refused.value) and "sk-wrong" not in str(refused.value)
        with httpx.Client(timeout=5.0) as http:
            assert model_entries(http, server.url) == []
            assert first_served(http, server.url) is None


def test_an_unreachable_endpoint_is_one_line():
    with Squatter() as server:
        url = server.url
    with pytest.raises(RunFailed, match="unreachable"):
        first_model(url, None, timeout=2.0)
