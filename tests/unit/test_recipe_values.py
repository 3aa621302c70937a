"""Recipe values are range-checked against what the engine accepts (issue 17, items 6, 7, 10)."""

from __future__ import annotations

import re
import time

import pytest

from servelab.engines import engine_names
from servelab.errors import BadInput
from servelab.recipe import recipe_from_text

GOOD = "name: t\nengine: {name: llamacpp}\nmodel: {id: stories260k, file: stories260k.gguf}\n"

REJECTED = {
    "nan-split": (
        "parallel: {tensor_split: [.nan, 1]}",
        "parallel.tensor_split.0: must be a finite",
    ),
    "inf-split": ("parallel: {tensor_split: [.inf]}", "parallel.tensor_split.0: must be a finite"),
    "negative-split": ("parallel: {tensor_split: [-1, 2]}", "greater than or equal to 0"),
    "zero-split": ("parallel: {tensor_split: [0, 0]}", "needs at least one share above 0"),
    "negative-mm": (
        "limits: {limit_mm_per_prompt: {image: -1}}",
        "limits.limit_mm_per_prompt.image: input should be greater than or equal to 0",
    ),
    "lookup-order": (
        "speculative: {method: ngram, prompt_lookup_min: 5, prompt_lookup_max: 2}",
        "prompt_lookup_min (5) is above prompt_lookup_max (2)",
    ),
    "bad-host": ("server: {host: 'not a host!'}", "server.host: must be an IP address or a host"),
    "env-name": ("env: {'A=B': x}", "env.A=B (key): must be an environment variable name"),
    "key-env-name": ("server: {api_key_env: 'A B'}", "server.api_key_env: must be an environment"),
    "int32": ("context: {max_model_len: 2147483648}", "less than or equal to 2147483647"),
    "huge-int": ("context: {max_model_len: " + "9" * 400 + "}", "(got an integer of 400 digits)"),
    "float-overflow": ("context: {max_model_len: 1e400}", "context.max_model_len"),
    "bool-count": ("runtime: {threads: true}", "runtime.threads: must be a whole number"),
    "newline-arg": ('extra_args: ["--a\\nb"]', "extra_args.0: must not contain control"),
    "gpu-util-nan": ("limits: {gpu_memory_utilization: .nan}", "limits.gpu_memory_utilization"),
    "extra-key": ("speculative: {method: ngram, extra: {'--x y': 1}}", "speculative.extra"),
    "extra-nested": ("speculative: {method: ngram, extra: {a: {b: 1}}}", "speculative.extra.a"),
    "name-path": ("name: ../../x", "name: string should match pattern"),
}


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_out_of_range_values_are_bad_input(case):
    """Item 7: each of these was accepted (and NUL/the bad host then crashed `up`)."""
    line, expected = REJECTED[case]
    if line.startswith("name:"):
        text = GOOD.replace("name: t\n", line + "\n")
    else:
        text = GOOD + line + "\n"
    with pytest.raises(BadInput) as info:
        recipe_from_text(text, "r.yaml")
    message = str(info.value)
    assert message.startswith("r.yaml: ") and "\n" not in message
    assert expected in message, message


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "0.0.0.0", "::1", "::", "localhost", "gpu-node-3.cluster.local"]
)
def test_real_hosts_are_accepted(host):
    assert recipe_from_text(GOOD + f"server: {{host: '{host}'}}\n", "r.yaml").server.host == host


def test_pipeline_2_pow_63_is_rejected_quickly(run_cli, tmp_path):
    """Item 6: `plan` with parallel.pipeline: 2**63 ran past 60 s and 3.9 GB."""
    path = tmp_path / "pp.yaml"
    path.write_text(GOOD + f"parallel: {{pipeline: {2**63}}}\n")
    started = time.monotonic()
    result = run_cli("plan", str(path), timeout=60)
    assert result.returncode == 2, result.stderr
    assert "parallel.pipeline: input should be less than or equal to 4096" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert time.monotonic() - started < 30


def test_engine_name_shorthand():
    """Item 10: `engine: vllm` was rejected as "input should be a valid dictionary"."""
    recipe = recipe_from_text(GOOD.replace("{name: llamacpp}", "vllm"), "r.yaml")
    assert recipe.engine.name == "vllm"
    known = [repr(name) for name in engine_names()]
    expected = "engine.name: input should be " + ", ".join(known[:-1]) + " or " + known[-1]
    with pytest.raises(BadInput, match=re.escape(expected)):
        recipe_from_text(GOOD.replace("{name: llamacpp}", "tgi"), "r.yaml")


def test_the_first_error_is_shown_in_full():
    """Item 10: the real error hid behind "(+N more)"; now it leads, the others are named."""
    text = "name: t\nengine: {name: llamacpp}\nmodel: {id: ''}\ncontext: {max_model_len: 0}\n"
    text += "runtime: {threads: 0}\n"
    with pytest.raises(BadInput) as info:
        recipe_from_text(text, "r.yaml")
    message = str(info.value)
    assert message.startswith("r.yaml: model.id: must not be empty")
    assert "(also: context.max_model_len, runtime.threads)" in message


def test_llama_context_pool_beyond_int32_is_bad_input():
    from servelab.engines import get_engine

    recipe = recipe_from_text(
        GOOD + "context: {max_model_len: 2000000000}\nruntime: {parallel_slots: 4}\n", "r.yaml"
    )
    with pytest.raises(BadInput, match="more than llama-server's -c takes"):
        get_engine("llamacpp").argv(recipe, host="127.0.0.1", port=8080, resolve_models=False)
