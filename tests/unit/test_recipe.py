"""Recipe validation: strict keys, one-line errors naming file, key path and expectation."""

from __future__ import annotations

import pytest

from servelab.engines import engine_names
from servelab.errors import BadInput
from servelab.recipe import list_recipes, load_recipe, recipe_from_text

GOOD = """
name: t
engine: {name: llamacpp}
model: {id: stories260k, file: stories260k.gguf}
"""

BAD_CASES = {
    "yaml-syntax": ("name: t\nengine: {name: llamacpp\n", "YAML syntax error at line"),
    "unknown-key": (GOOD + "speculativ: {method: ngram}\n", "speculativ: unknown key"),
    "nested-unknown-key": (
        GOOD + "context: {max_model_len: 10, kv_dtype: fp8}\n",
        "context.kv_dtype: unknown key",
    ),
    "wrong-type": (
        GOOD + "context: {max_model_len: lots}\n",
        "context.max_model_len: input should be a valid integer",
    ),
    "unknown-engine": (
        GOOD.replace("llamacpp", "tgi"),
        "engine.name: input should be "
        + " or ".join(
            [", ".join(repr(name) for name in engine_names()[:-1]), repr(engine_names()[-1])]
        ),
    ),
    "negative-k": (
        GOOD + "speculative: {method: draft_model, num_speculative_tokens: -1}\n",
        "speculative.num_speculative_tokens: input should be greater than or equal to 1",
    ),
    "missing-model": ("name: t\nengine: {name: vllm}\n", "model: required key is missing"),
}


def test_good_recipe_parses():
    recipe = recipe_from_text(GOOD, "good.yaml")
    assert recipe.engine.name == "llamacpp"
    assert recipe.server.host == "127.0.0.1"
    assert len(recipe.hash) == 16


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_recipe_message(case):
    text, expected = BAD_CASES[case]
    with pytest.raises(BadInput) as info:
        recipe_from_text(text, "bad.yaml")
    message = str(info.value)
    assert message.startswith("bad.yaml: ")
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_recipe_cli_exit_2_one_line(case, tmp_path, run_cli):
    text, expected = BAD_CASES[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    result = run_cli("show", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0] and expected in lines[0]
    assert "Traceback" not in result.stderr


def test_every_field_has_a_description():
    from pydantic import BaseModel

    from servelab.recipe import Recipe

    seen = set()

    def walk(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name} has no description"
            for arg in getattr(info.annotation, "__args__", ()) + (info.annotation,):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    walk(arg)

    walk(Recipe)
    assert len(seen) >= 8


def test_bundled_recipes_cover_the_post_and_local_stacks():
    names = {recipe.name for _, recipe in list_recipes()}
    post = {
        "gemma4-26b-a4b-vision-mtp",
        "qwen3.6-35b-a3b-mtp",
        "gemma4-26b-a4b-dflash",
        "nemotron-elastic-30b-a3b-nvfp4",
        "gemma4-26b-a4b-nospec",
        "qwen3.6-27b-dflash",
    }
    local = {"local-stories260k", "local-stories260k-draft", "local-stories260k-ngram"}
    assert post | local <= names


def test_unknown_recipe_name_is_bad_input():
    with pytest.raises(BadInput, match="no recipe of that name"):
        load_recipe("no-such-stack")


def test_with_value_and_twin():
    recipe = load_recipe("local-stories260k-draft")
    variant = recipe.with_value("speculative.num_speculative_tokens", 8)
    assert variant.speculative.num_speculative_tokens == 8
    assert variant.hash != recipe.hash
    twin = recipe.without_speculation()
    assert twin.speculative is None and twin.model == recipe.model
    with pytest.raises(BadInput, match="num_speculative_tokens"):
        recipe.with_value("speculative.num_speculative_tokens", 0)
