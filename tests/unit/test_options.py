"""The measuring commands' defaults live in one place; a setting is CLI, else recipe, else it."""

from __future__ import annotations

from servelab.bench.runner import BenchOptions
from servelab.options import DEFAULTS, measure_settings
from servelab.recipe import BenchDefaults, load_recipe
from servelab.workloads.prompts import DEFAULT_WORKLOAD


def test_the_defaults_are_the_recipe_and_runner_defaults():
    assert (DEFAULTS.runs, DEFAULTS.tokens, DEFAULTS.workload) == (10, 2500, "space-invaders")
    section = BenchDefaults()
    assert (section.runs, section.tokens, section.prompt) == (10, 2500, "space-invaders")
    assert (BenchOptions().runs, BenchOptions().tokens) == (10, 2500)
    assert DEFAULTS.workload == DEFAULT_WORKLOAD


def test_cli_value_else_recipe_else_default():
    recipe = load_recipe("local-stories260k-draft")  # bench: prompt story, its own runs/tokens
    from_recipe = measure_settings(recipe.bench)
    assert from_recipe.workload == "story" and from_recipe.runs == recipe.bench.runs
    given = measure_settings(recipe.bench, runs=3, workload="prose")
    assert (given.runs, given.tokens, given.workload) == (3, recipe.bench.tokens, "prose")
    assert measure_settings(None) == DEFAULTS
    assert measure_settings(None, tokens=7).tokens == 7
