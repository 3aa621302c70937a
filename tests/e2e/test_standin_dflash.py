"""The sixth stack as a stand-in, served by the real llama-server on the CPU: `servelab up`
loads the qwen35 target and the DFlash drafter, `bench` counts drafts two ways, `check
--only lossless` matches the no-speculation twin."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest

from servelab.launch import log_path_for
from tests.support import REPO, RunCli, models_root

sys.path.insert(0, str(REPO / "benchmarks" / "standins"))

import make_standins  # noqa: E402

RECIPE = "standin-qwen3.6-27b-dflash"
pytestmark = pytest.mark.llama


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    """A models folder holding stories260k and the freshly written stand-in GGUFs."""
    root = tmp_path_factory.mktemp("models")
    (root / "stories260k").symlink_to(models_root() / "stories260k")
    make_standins.make(["qwen3.6-27b"], root / "standins", models_root())
    # the recipe keeps the post's -ngl 99, which a CPU build ignores
    return {"SERVELAB_MODELS": str(root), "SERVELAB_GPU_COUNT": "1"}


def test_up_loads_the_target_and_the_dflash_drafter(run_cli: RunCli, env):
    up = run_cli("up", RECIPE, "--json", env=env)
    try:
        assert up.returncode == 0, up.stderr
        url = json.loads(up.stdout)["url"]
        reply = httpx.post(
            url + "/v1/chat/completions",
            json={
                "messages": [{"role": "user", "content": "Once upon a time"}],
                "max_tokens": 24,
                "temperature": 0,
            },
            timeout=60,
        ).json()
        log = log_path_for(RECIPE).read_text()
    finally:
        run_cli("down", RECIPE, env=env)
    assert reply["usage"]["completion_tokens"] == 24
    assert reply["timings"]["draft_n"] > 0  # the drafter proposed tokens
    assert "loading model" in log and "target.gguf" in log
    assert "loading draft model" in log and "dflash.gguf" in log
    assert "adding speculative implementation 'draft-dflash'" in log
    # the drafter's own metadata as llama.cpp read it: block 16, <mask> id, 5 target taps
    assert "block_size=16, mask_token_id=512, n_extract=5" in log


def test_bench_counts_drafts_in_metrics_and_timings_alike(run_cli: RunCli, env, tmp_path):
    out = tmp_path / "bench.json"
    result = run_cli("bench", RECIPE, "--runs", "3", "--tokens", "64", "--json", str(out), env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert all(run["ok"] and run["output_tokens"] == 64 for run in data["runs"])
    spec = data["spec"]
    assert spec["source"] == "metrics" and spec["drafted"] > 0
    assert (spec["timings_drafted"], spec["timings_accepted"]) == (
        spec["drafted"],
        spec["accepted"],
    )


def test_lossless_against_the_no_speculation_twin(run_cli: RunCli, env, tmp_path):
    out = tmp_path / "check.json"
    result = run_cli(
        "check",
        RECIPE,
        "--only",
        "lossless",
        "--tokens",
        "64",
        "--json",
        str(out),
        "--no-store",
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    check = json.loads(out.read_text())["checks"][0]
    assert check["name"] == "lossless" and check["passed"]
    assert "5 of 5 prompts identical" in check["detail"]
    assert sum(item["drafted"] for item in check["evidence"]) > 0


def test_up_loads_the_eagle3_drafter_on_the_same_target(run_cli: RunCli, env):
    name = "standin-qwen3.6-27b-eagle3"
    up = run_cli("up", name, "--json", env=env)
    try:
        assert up.returncode == 0, up.stderr
        reply = httpx.post(
            json.loads(up.stdout)["url"] + "/v1/chat/completions",
            json={
                "messages": [{"role": "user", "content": "Once upon a time"}],
                "max_tokens": 16,
                "temperature": 0,
            },
            timeout=60,
        ).json()
        log = log_path_for(name).read_text()
    finally:
        run_cli("down", name, env=env)
    assert "loading draft model" in log and "eagle3.gguf" in log
    assert reply["usage"]["completion_tokens"] == 16 and reply["timings"]["draft_n"] > 0


def test_the_generated_files_are_where_the_recipe_looks(env):
    folder = Path(env["SERVELAB_MODELS"]) / "standins" / "qwen3.6-27b"
    assert {p.name for p in folder.iterdir()} >= {"target.gguf", "dflash.gguf", "eagle3.gguf"}
