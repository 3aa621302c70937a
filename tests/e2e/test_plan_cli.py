"""`servelab plan` as a user runs it: golden numbers from vLLM's own messages, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import DATA, RunCli

OFFLINE = {"HF_HUB_OFFLINE": "1", "COLUMNS": "200"}


@pytest.fixture
def plan_json(run_cli: RunCli):
    def plan_json(*args: str, env: dict | None = None) -> dict:
        result = run_cli("plan", *args, "--json", "-", env={**OFFLINE, **(env or {})})
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    return plan_json


def write_recipe(folder: Path, name: str, body: str) -> str:
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\n{body}")
    return str(path)


@pytest.fixture
def standin(tmp_path: Path) -> str:
    return write_recipe(
        tmp_path,
        "standin-1b",
        f"engine: {{name: vllm, version: 0.20.2}}\nmodel: {{id: '{DATA / 'standin-1b'}'}}\n"
        "context: {max_model_len: 8192}\n",
    )


def test_gemma4_table_prints_3_38_gib_and_the_formula(run_cli):
    result = run_cli("plan", "gemma4-26b-a4b-vision-mtp", "--max-model-len", "262144", env=OFFLINE)
    assert result.returncode == 0, result.stderr
    assert "3.38 GiB" in result.stdout
    assert "ceil(L / block)" in result.stdout
    assert "exceeds the native context 131072" in result.stdout


def test_gemma4_fit_with_the_exact_available_memory(plan_json):
    plan = plan_json(
        "gemma4-26b-a4b-vision-mtp", "--max-model-len", "262144", "--kv-available", "2.8221"
    )
    assert round(plan["kv_needed_gib"], 2) == 3.38
    assert plan["kv_available_gib"] == pytest.approx(2.8221)
    assert plan["max_model_len_fit"] == 203584
    assert plan["fits"] is False
    assert plan["native_context"] == 131072
    assert plan["kv_bytes_per_extra_token"] == 5 * 2 * 2 * 512  # fp8: the 5 full layers
    for key in ("weights_gib", "kv_bytes_per_token", "roofline_tps"):
        assert key in plan


@pytest.mark.parametrize(("available", "fit"), [("0.2465", 4032), ("0.25", 4096)])
def test_standin_golden_fit(plan_json, standin: str, available: str, fit: int):
    plan = plan_json(standin, "--kv-available", available)
    assert plan["kv_needed_gib"] == 0.5
    assert plan["max_model_len_fit"] == fit


def test_standin_estimate_matches_what_vllm_logged_on_an_h100(plan_json, standin: str):
    """vLLM 0.20.2 logged 'Available KV cache memory: 69.05 GiB' at utilization 0.9, and
    printed 0.25 GiB (estimate 4032) at 0.036."""
    full = plan_json(standin, "--gpu", "NVIDIA H100 80GB HBM3", "--gpu-util", "0.9")
    assert full["kv_available_gib"] == pytest.approx(69.05, abs=0.1)
    assert full["gpu"]["bandwidth_gbs"] == 3350
    tight = plan_json(standin, "--gpu", "h100", "--gpu-util", "0.036")
    assert tight["kv_available_gib"] == pytest.approx(0.2465, abs=0.02)
    assert 3800 <= tight["max_model_len_fit"] <= 4200
    # Roofline: 3.35 TB/s over 2.0 GB of bf16 weights + KV is about 1,650 t/s.
    assert full["roofline_tps"] == pytest.approx(3350e9 / (2.0153e9 + 1250 * 65536), rel=0.01)


def test_stories_plans_the_same_from_gguf_and_hf_folder(plan_json, tmp_path: Path):
    gguf = write_recipe(
        tmp_path,
        "from-gguf",
        "engine: {name: llamacpp}\nmodel: {id: stories260k, file: stories260k.gguf}\n"
        "context: {max_model_len: 1024}\n",
    )
    hf = write_recipe(
        tmp_path,
        "from-hf",
        "engine: {name: llamacpp}\nmodel: {id: stories260k/hf}\ncontext: {max_model_len: 1024}\n",
    )
    args = ("--gpu", "rtx 4090", "--kv-available", "0.001")
    plans = [plan_json(path, *args) for path in (gguf, hf)]
    assert plans[0]["model"]["source"].startswith("GGUF")
    assert plans[1]["model"]["source"].endswith("config.json")
    keys = (
        "weights_gib",
        "kv_bytes_per_token",
        "kv_needed_bytes",
        "kv_available_gib",
        "max_model_len_fit",
        "native_context",
        "roofline_tps",
    )
    assert {key: plans[0][key] for key in keys} == {key: plans[1][key] for key in keys}
    assert plans[0]["kv_bytes_per_token"] == 5 * 2 * 4 * 8 * 2  # f16 cache
    assert plans[0]["kv_needed_bytes"] == 1024 * 640
    assert plans[0]["max_model_len_fit"] == 1024


def test_missing_config_is_one_line_and_exit_2(run_cli, tmp_path: Path):
    empty = tmp_path / "empty-model"
    empty.mkdir()
    recipe = write_recipe(tmp_path, "r", f"engine: {{name: vllm}}\nmodel: {{id: '{empty}'}}\n")
    result = run_cli("plan", recipe, env=OFFLINE)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no config.json here" in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_config_is_one_line_and_exit_2(run_cli, tmp_path: Path):
    folder = tmp_path / "bad-model"
    folder.mkdir()
    (folder / "config.json").write_text('{"num_hidden_layers": 16,,}')
    recipe = write_recipe(tmp_path, "r", f"engine: {{name: vllm}}\nmodel: {{id: '{folder}'}}\n")
    result = run_cli("plan", recipe, env=OFFLINE)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "config.json: malformed JSON at line 1" in result.stderr


def test_hub_id_offline_fails_cleanly_and_reads_the_hub_cache(plan_json, run_cli, tmp_path: Path):
    cache = tmp_path / "hub"
    recipe = write_recipe(tmp_path, "r", "engine: {name: vllm}\nmodel: {id: some-org/tiny}\n")
    env = {"HF_HUB_CACHE": str(cache)}
    result = run_cli("plan", recipe, env={**OFFLINE, **env})
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "could not be fetched from the hub (offline mode" in result.stderr
    # The same id with config.json in huggingface_hub's cache layout plans offline.
    commit = "0" * 40
    repo = cache / "models--some-org--tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text((DATA / "standin-1b" / "config.json").read_text())
    plan = plan_json(recipe, "--kv-available", "0.25", env=env)
    assert plan["model"]["source"] == "hub some-org/tiny config.json"
    assert plan["max_model_len_fit"] == 4096


def test_bad_options_are_one_line(run_cli, standin: str):
    result = run_cli("plan", standin, "--gpu", "voodoo 5", env=OFFLINE)
    assert result.returncode == 2 and "unknown GPU" in result.stderr
    result = run_cli("plan", standin, "--acceptance", "1.5", env=OFFLINE)
    assert result.returncode == 2 and "between 0 and 1" in result.stderr
