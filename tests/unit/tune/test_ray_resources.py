"""What a slot asks of a cluster, and `up` refusing a recipe that needs more GPUs than exist."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from servelab.engines import get_engine
from servelab.errors import EngineFailed
from servelab.gpu import detect_gpus
from servelab.recipe import load_recipe
from servelab.tune.ray_executor import task_resources, unplaceable, worker_env

launch = importlib.import_module("servelab.launch")  # the package exports the function
TP2 = Path(__file__).resolve().parents[2] / "data" / "recipes" / "tp2-vllm.yaml"


def _needed(recipe) -> int:
    return get_engine(recipe.engine.name).gpus_required(recipe)


def test_gpus_required_follow_the_parallel_layout_and_offload():
    cpu = load_recipe("local-stories260k-draft")
    assert _needed(cpu) == 0
    assert _needed(cpu.with_value("runtime.gpu_layers", 99)) == 1
    assert _needed(cpu.with_value("runtime.gpu_layers", 0)) == 0
    offloaded_split = cpu.with_value("runtime.gpu_layers", 99).with_value("parallel.tensor", 2)
    assert _needed(offloaded_split) == 2
    assert _needed(load_recipe(TP2)) == 2
    assert _needed(load_recipe(TP2).with_value("parallel.pipeline", 2)) == 4


def test_a_slot_task_requests_gpus_or_the_recipes_cpu_threads():
    assert task_resources(load_recipe("local-stories260k-draft")) == {"num_cpus": 1, "num_gpus": 0}
    threaded = load_recipe("local-stories260k").with_value("runtime.threads", 3)
    assert task_resources(threaded) == {"num_cpus": 3, "num_gpus": 0}
    assert task_resources(load_recipe(TP2)) == {"num_cpus": 1, "num_gpus": 2}


def test_a_task_no_node_can_hold_is_named_before_it_is_submitted():
    nodes = [
        {"Alive": True, "Resources": {"CPU": 8.0, "GPU": 1.0}},
        {"Alive": False, "Resources": {"CPU": 8.0, "GPU": 4.0}},
    ]
    assert unplaceable({"num_cpus": 1, "num_gpus": 1}, nodes) is None
    assert unplaceable({"num_cpus": 1, "num_gpus": 0}, nodes) is None
    reason = unplaceable({"num_cpus": 1, "num_gpus": 2}, nodes)
    assert reason and "2 GPU" in reason
    assert unplaceable({"num_cpus": 9, "num_gpus": 0}, nodes)


def test_workers_get_nvlink_multicast_off_and_the_models_folder(monkeypatch):
    monkeypatch.setenv("SERVELAB_MODELS", "/models")
    env = worker_env()
    assert env["NCCL_NVLS_ENABLE"] == "0" and env["SERVELAB_MODELS"] == "/models"


def test_start_refuses_a_recipe_needing_more_gpus_than_nvml_reports(monkeypatch):
    # NVML is faked to one card: what a single-GPU host reports.
    card = {"index": 0, "name": "NVIDIA H100", "memory_gib": 79.19, "driver": "570"}
    monkeypatch.setattr(launch, "detect_gpus", lambda: [card])
    with pytest.raises(EngineFailed, match=r"needs 2 GPUs .*tensor 2 .*this machine has 1"):
        launch.start(load_recipe(TP2))


@pytest.mark.skipif(len(detect_gpus()) >= 2, reason="this machine has 2 GPUs or more")
def test_up_refuses_a_tp2_recipe_in_one_line_with_exit_3(run_cli):
    done = run_cli("up", str(TP2))
    assert done.returncode == 3
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs 2 GPUs" in lines[0] and "(NVML)" in lines[0]
