"""The failure classifier on captured engine logs, and `servelab diagnose`."""

from __future__ import annotations

import json

import pytest

from servelab.engines import diagnose_any, get_engine
from servelab.engines.base import (
    ENGINE_EXITED,
    INVALID_ARGUMENT,
    KV_DTYPE_UNSUPPORTED,
    KV_TOO_SMALL,
    MODEL_NOT_FOUND,
    NO_CACHE_MEMORY,
    PORT_IN_USE,
)
from tests.support import DATA

LOGS = DATA / "logs"


def test_post_message_across_line_breaks():
    found = get_engine("vllm").diagnose((LOGS / "vllm_post_kv_too_small.log").read_text())
    assert found.kind == KV_TOO_SMALL
    assert (found.needed_gib, found.available_gib, found.max_model_len_fit) == (3.38, 2.82, 203584)
    assert found.requested_len == 262144
    assert "--max-model-len 203584" in found.message


def test_vllm_0_20_2_kv_error_captured_on_an_h100():
    found = get_engine("vllm").diagnose((LOGS / "vllm_0.20.2_h100_kv_too_small.log").read_text())
    assert found.kind == KV_TOO_SMALL
    assert (found.needed_gib, found.available_gib, found.max_model_len_fit) == (0.5, 0.19, 3168)
    assert "the largest context that fits is 3168; rerun with --max-model-len 3168" in (
        found.message
    )


def test_vllm_0_20_2_kv_error_as_first_reported():
    """The text the GPU notes recorded (0.5 needed, 0.25 available, estimate 4032)."""
    text = (
        "ValueError: To serve at least one request with the models's max seq len (8192), (0.5 "
        "GiB KV cache is needed, which is larger than the available KV cache memory (0.25 GiB). "
        "Based on the available memory, the estimated maximum model length is 4032. Try "
        "increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing "
        "the engine."
    )
    found = get_engine("vllm").diagnose(text)
    assert (found.needed_gib, found.available_gib, found.max_model_len_fit) == (0.5, 0.25, 4032)
    assert "rerun with --max-model-len 4032" in found.message


@pytest.mark.parametrize(
    "text",
    [
        "To serve at least one request with the model's max seq len (8192), (0.50 GiB KV cache "
        "is needed, which is larger than the available KV cache memory (0.25 GiB). Based on the "
        "available memory, the estimated maximum model length is 4032.",
        "To serve at least one request with the model(s)'s max seq len (8192), 0.5 GiB KV cache "
        "is needed,\nwhich is larger than the available KV cache memory (0.25 GiB).\nBased on "
        "the available memory, the estimated maximum model length is 4032.",
        "ValueError: To serve at least one request with the models's max seq len (8192),\n"
        "(0.5 GiB KV cache is needed, which is larger than the available KV cache memory "
        "(0.25 GiB). Based on the available memory,\n the estimated maximum model length is "
        "4032. Try increasing `gpu_memory_utilization`",
    ],
)
def test_kv_error_wording_variants(text):
    found = get_engine("vllm").diagnose(text)
    assert found.kind == KV_TOO_SMALL
    assert (found.needed_gib, found.available_gib, found.max_model_len_fit) == (0.5, 0.25, 4032)


def test_kv_error_without_estimate():
    text = (
        "To serve at least one request with the model's max seq len (8192), (0.5 GiB KV "
        "cache is needed, which is larger than the available KV cache memory (0.25 GiB)."
    )
    found = get_engine("vllm").diagnose(text)
    assert found.kind == KV_TOO_SMALL and found.max_model_len_fit is None


def test_no_cache_blocks():
    log = (LOGS / "vllm_0.20.2_h100_no_cache_blocks.log").read_text()
    found = get_engine("vllm").diagnose(log)
    assert found.kind == NO_CACHE_MEMORY
    assert "it suggests --gpu-memory-utilization 0.0512" in found.message


@pytest.mark.parametrize(
    ("log", "kind"),
    [
        ("llamacpp_model_missing.log", MODEL_NOT_FOUND),
        ("llamacpp_model_corrupt.log", MODEL_NOT_FOUND),
        ("llamacpp_bad_arg.log", INVALID_ARGUMENT),
        ("llamacpp_port_in_use.log", PORT_IN_USE),
    ],
)
def test_llamacpp_logs(log, kind):
    text = (LOGS / log).read_text()
    assert get_engine("llamacpp").diagnose(text).kind == kind
    assert diagnose_any(text).kind == kind


def test_llamacpp_missing_model_names_the_file():
    found = get_engine("llamacpp").diagnose((LOGS / "llamacpp_model_missing.log").read_text())
    assert "/nonexistent/x.gguf: No such file or directory" in found.message


@pytest.mark.parametrize(
    ("log", "kind", "numbers"),
    [
        ("vllm_post_kv_too_small.log", KV_TOO_SMALL, (3.38, 2.82, 203584)),
        ("vllm_0.20.2_h100_kv_too_small.log", KV_TOO_SMALL, (0.5, 0.19, 3168)),
        ("vllm_0.20.2_h100_no_cache_blocks.log", NO_CACHE_MEMORY, (None, None, None)),
        ("vllm_0.20.2_h100_max_len_over_native.log", INVALID_ARGUMENT, (None, None, None)),
        ("vllm_0.22.0_h100_dflash_kv_groups.log", ENGINE_EXITED, (None, None, None)),
        ("vllm_0.22.0_h200_dflash_fa4_fp8.log", KV_DTYPE_UNSUPPORTED, (None, None, None)),
        ("llamacpp_model_missing.log", MODEL_NOT_FOUND, (None, None, None)),
    ],
)
def test_diagnose_cli(log, kind, numbers, run_cli):
    plain = run_cli("diagnose", str(LOGS / log))
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.startswith(kind)
    for number in numbers:
        if number is not None:
            assert str(number) in plain.stdout
    machine = run_cli("diagnose", str(LOGS / log), "--json")
    data = json.loads(machine.stdout)
    assert set(data) >= {"kind", "message", "needed_gib", "available_gib", "max_model_len_fit"}
    assert data["kind"] == kind
    assert (data["needed_gib"], data["available_gib"], data["max_model_len_fit"]) == numbers


def test_diagnose_missing_file_exit_2(run_cli, tmp_path):
    result = run_cli("diagnose", str(tmp_path / "nope.log"))
    assert result.returncode == 2 and "no such file" in result.stderr


def test_vllm_max_len_past_native_context_names_both_fixes():
    log = (LOGS / "vllm_0.20.2_h100_max_len_over_native.log").read_text()
    found = get_engine("vllm").diagnose(log)
    assert found.kind == INVALID_ARGUMENT
    assert "max_model_len 32768 is past the model's native context 8192" in found.message
    assert "VLLM_ALLOW_LONG_MAX_MODEL_LEN=1" in found.message


def test_fp8_kv_on_a_kernel_without_fp8_says_what_to_change():
    # captured on an H200 (SM90): the DFlash stand-in's head size 512 sends vLLM 0.22 to
    # FlashAttention 4, which asserts at the first request with an fp8 KV cache
    log = (LOGS / "vllm_0.22.0_h200_dflash_fa4_fp8.log").read_text()
    found = diagnose_any(log)
    assert found.kind == KV_DTYPE_UNSUPPORTED
    assert "kv_cache_dtype: auto" in found.message and "SM100" in found.message
    assert "FP8 is only supported on SM100" in found.evidence


def test_vllm_engine_core_assertion_is_named():
    log = (LOGS / "vllm_0.22.0_h100_dflash_kv_groups.log").read_text()
    found = diagnose_any(log)
    assert found.kind == ENGINE_EXITED
    assert "All drafting layers should belong to the same kv cache group" in found.message
