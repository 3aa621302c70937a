"""A third engine from one file: the SGLang skeleton shows in `doctor`, `recipes` and `show`."""

from __future__ import annotations

import json

SKELETON_RECIPE = """\
name: sglang-skeleton
version: 0.1.0
description: a recipe on the skeleton adapter
engine: {name: sglang}
model: {id: org/some-model}
context: {max_model_len: 4096}
parallel: {tensor: 2}
"""


def test_the_skeleton_engine_appears_in_doctor(run_cli):
    done = run_cli("doctor", "--json", "-")
    assert done.returncode == 0, done.stderr
    names = [engine["name"] for engine in json.loads(done.stdout)["engines"]]
    assert names[:2] == ["vllm", "llamacpp"] and "sglang" in names
    text = run_cli("doctor")
    assert "sglang" in text.stdout


def test_a_recipe_on_the_skeleton_engine_is_listed_and_shown(run_cli, servelab_home):
    folder = servelab_home / "data" / "recipes"
    folder.mkdir(parents=True)
    (folder / "sglang-skeleton.yaml").write_text(SKELETON_RECIPE)
    listed = run_cli("recipes", "--json", "-")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)["items"]
    [row] = [row for row in rows if row["name"] == "sglang-skeleton"]
    assert row["engine"] == "sglang" and row["model"] == "org/some-model"
    shown = run_cli("show", "sglang-skeleton", "--format", "argv")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == [
        "python",
        "-m",
        "sglang.launch_server",
        "--model-path",
        "org/some-model",
        "--host",
        "127.0.0.1",
        "--port",
        "30000",
        "--context-length",
        "4096",
        "--tp-size",
        "2",
    ]
