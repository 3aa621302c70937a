"""Engine command lines: the post's flags exactly, and deliberate threads on the CPU."""

from __future__ import annotations

import json

import pytest

from servelab.engines import get_engine
from servelab.errors import BadInput
from servelab.recipe import load_recipe


def _argv(name: str) -> list[str]:
    recipe = load_recipe(name)
    return get_engine(recipe.engine.name).argv(
        recipe, host="127.0.0.1", port=8000, resolve_models=False
    )


def _value(argv: list[str], flag: str) -> str:
    assert argv.count(flag) == 1, f"{flag} appears {argv.count(flag)} times"
    return argv[argv.index(flag) + 1]


def test_gemma4_vision_mtp_reproduces_the_post_flag_by_flag():
    argv = _argv("gemma4-26b-a4b-vision-mtp")
    assert argv[:3] == ["vllm", "serve", "cyankiwi/gemma-4-26B-A4B-it-AWQ-4bit"]
    assert json.loads(_value(argv, "--speculative-config")) == {
        "model": "google/gemma-4-26B-A4B-it-assistant",
        "method": "gemma4_mtp",
        "num_speculative_tokens": 3,
    }
    assert _value(argv, "--attention-backend") == "triton_attn"
    assert _value(argv, "--kv-cache-dtype") == "fp8"
    assert _value(argv, "--gpu-memory-utilization") == "0.94"
    assert "--enable-prefix-caching" in argv
    assert json.loads(_value(argv, "--limit-mm-per-prompt")) == {"image": 1}
    assert "--enable-auto-tool-choice" in argv
    assert _value(argv, "--tool-call-parser") == "gemma4"
    assert _value(argv, "--max-model-len") == "131072"
    assert _value(argv, "--host") == "127.0.0.1"
    assert load_recipe("gemma4-26b-a4b-vision-mtp").engine.image == (
        "vllm/vllm-openai:v0.21.0-cu129"
    )


def test_gemma4_docker_form_uses_the_post_image_and_loopback():
    recipe = load_recipe("gemma4-26b-a4b-vision-mtp")
    argv = get_engine("vllm").docker_argv(recipe, port=8000)
    assert "vllm/vllm-openai:v0.21.0-cu129" in argv
    assert "127.0.0.1:8000:8000" in argv
    assert "-e" in argv and "VLLM_API_KEY" in argv  # the key by reference, never its value
    assert _value(argv, "--tool-call-parser") == "gemma4"


def test_nospec_baseline_differs_only_by_speculation():
    mtp = _argv("gemma4-26b-a4b-vision-mtp")
    base = _argv("gemma4-26b-a4b-nospec")
    i = mtp.index("--speculative-config")
    assert mtp[:i] + mtp[i + 2 :] == base


def test_local_draft_recipe_pins_threads():
    argv = _argv("local-stories260k-draft")
    assert _value(argv, "-t") == "1"
    assert _value(argv, "-td") == "1"
    assert _value(argv, "--spec-type") == "draft-simple"
    assert _value(argv, "--spec-draft-n-max") == "4"
    assert "--metrics" in argv
    assert _value(argv, "-md").endswith("stories260k.gguf")


def test_local_ngram_recipe():
    argv = _argv("local-stories260k-ngram")
    assert _value(argv, "--spec-type") == "ngram-simple"
    assert _value(argv, "-t") == "1"
    assert "-md" not in argv


def test_local_context_is_per_slot():
    argv = _argv("local-stories260k")
    assert _value(argv, "-np") == "4"
    assert _value(argv, "-c") == str(512 * 4)


def test_show_prints_threads(run_cli):
    result = run_cli("show", "local-stories260k-draft")
    assert result.returncode == 0, result.stderr
    assert "-t 1" in result.stdout and "-td 1" in result.stdout


def test_show_argv_format_one_per_line(run_cli):
    result = run_cli("show", "gemma4-26b-a4b-vision-mtp", "--format", "argv")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "--speculative-config" in lines and "triton_attn" in lines


def test_llamacpp_rejects_unknown_spec_method():
    recipe = load_recipe("local-stories260k-draft").with_value("speculative.method", "medusa")
    with pytest.raises(BadInput, match="speculative.method"):
        get_engine("llamacpp").argv(recipe, host="127.0.0.1", port=1, resolve_models=False)


def test_tensor_parallel_flags_and_nvls_off():
    recipe = load_recipe("gemma4-26b-a4b-vision-mtp").with_value("parallel.tensor", 2)
    engine = get_engine("vllm")
    argv = engine.argv(recipe, host="127.0.0.1", port=8000, resolve_models=False)
    assert _value(argv, "--tensor-parallel-size") == "2"
    plan = engine.launch_plan(recipe, host="127.0.0.1", port=8000)
    assert plan.env["NCCL_NVLS_ENABLE"] == "0"
