"""Roofline, GPU table matching, NVML detection (absent here: that path is tested for real)."""

from __future__ import annotations

import pytest

from servelab.errors import BadInput
from servelab.gpu import describe_gpu, detect_gpus
from servelab.plan import build_plan
from servelab.plan.gpus import gpu_by_name, match_gpu
from servelab.plan.roofline import achieved_fraction, decode_ceiling, tokens_per_step
from servelab.recipe import load_recipe


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("NVIDIA GeForce RTX 5090 Laptop GPU", "rtx-5090-laptop"),
        ("NVIDIA GeForce RTX 5090", "rtx-5090"),
        ("NVIDIA H100 80GB HBM3", "h100-sxm"),
        ("NVIDIA H100 PCIe", "h100-pcie"),
        ("NVIDIA A100-SXM4-40GB", "a100-40gb"),
        ("NVIDIA A100-SXM4-80GB", "a100-80gb"),
        ("NVIDIA A100 80GB PCIe", "a100-80gb-pcie"),
        ("NVIDIA H200", "h200"),
        ("NVIDIA L40S", "l40s"),
        ("rtx-4090", "rtx-4090"),
    ],
)
def test_nvml_and_user_names_match_the_table(name: str, key: str):
    spec = match_gpu(name)
    assert spec is not None and spec.key == key


def test_table_figures_from_the_issue():
    assert gpu_by_name("rtx 5090 laptop").bandwidth_gbs == 896
    assert gpu_by_name("h100 sxm").bandwidth_gbs == 3350
    assert match_gpu("Intel Arc A770") is None
    with pytest.raises(BadInput, match="unknown GPU"):
        gpu_by_name("Intel Arc A770")


def test_decode_ceiling_and_tokens_per_step():
    assert decode_ceiling(1000, 1e9) == pytest.approx(1000)
    assert decode_ceiling(1000, 1e9, tokens_per_step=3.5) == pytest.approx(3500)
    mtp = load_recipe("gemma4-26b-a4b-vision-mtp")  # k = 3
    steps, formula = tokens_per_step(mtp, 25920 / 29997)
    assert steps == pytest.approx(1 + 0.86409 * 3, abs=1e-4) and "α·k" in formula
    assert tokens_per_step(mtp, None)[0] == 1.0
    assert tokens_per_step(load_recipe("local-stories260k"), 0.9)[0] == 1.0
    unset_k = load_recipe("gemma4-26b-a4b-dflash")
    assert tokens_per_step(unset_k, 0.5) == (1.0, tokens_per_step(unset_k, 0.5)[1])
    assert "k unknown" in tokens_per_step(unset_k, 0.5)[1]


def test_roofline_of_the_post_stack_and_achieved_fraction(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    plan = build_plan("gemma4-26b-a4b-vision-mtp", gpu="rtx 5090 laptop", acceptance=25920 / 29997)
    roof = plan["roofline"]
    # MoE: only the active share of the weights is read per step.
    assert roof["active_share"] == pytest.approx(3.8 / 25.2)
    expected = 896e9 / (roof["active_weight_bytes"] + roof["kv_read_bytes"])
    assert plan["roofline_tps"] == pytest.approx(expected * roof["tokens_per_step"])
    fraction = achieved_fraction(250.548, plan)
    assert fraction == pytest.approx(250.548 / plan["roofline_tps"])
    assert 0 < fraction < 1


def test_no_bandwidth_means_no_roofline_and_a_clear_error():
    plan = build_plan("local-stories260k")
    assert plan["roofline_tps"] is None
    with pytest.raises(BadInput, match="bandwidth is unknown"):
        achieved_fraction(2200.0, plan)
    cpu = build_plan("local-stories260k", bandwidth_gbs=50)
    assert cpu["roofline_tps"] == pytest.approx(50e9 / cpu["roofline"]["bytes_per_step"])


def test_tensor_parallel_halves_weights_per_gpu(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    single = build_plan("gemma4-26b-a4b-nospec", gpu="h100")
    recipe = load_recipe("gemma4-26b-a4b-nospec").with_value("parallel.tensor", 2)
    double = build_plan(recipe, gpu="h100")
    assert double["weights_per_gpu_gib"] == pytest.approx(single["weights_gib"] / 2)
    assert double["kv_needed_gib"] < single["kv_needed_gib"]
    assert double["parallel"]["gpus"] == 2
    assert double["roofline_tps"] == pytest.approx(2 * single["roofline_tps"])


def test_detect_gpus_is_empty_without_nvml_on_this_machine():
    """This machine has no NVIDIA driver: NVML cannot initialise, so no GPUs and no error."""
    import pynvml

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        assert detect_gpus() == []
    else:  # a GPU host: the real list
        pynvml.nvmlShutdown()
        gpus = detect_gpus()
        assert gpus and all(gpu["memory_gib"] > 0 for gpu in gpus)


def test_describe_gpu_parses_nvml_values():
    gpu = describe_gpu(0, b"NVIDIA H100 80GB HBM3", 85520809984, b"580.159.04")
    assert gpu == {
        "index": 0,
        "name": "NVIDIA H100 80GB HBM3",
        "memory_gib": 79.65,
        "driver": "580.159.04",
    }
    assert describe_gpu(1, "NVIDIA L40S", 48 * 1024**3, "570.1")["name"] == "NVIDIA L40S"
