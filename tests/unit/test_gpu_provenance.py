"""Which GPUs a result names: the ones its server occupies, not every card on the host."""

from __future__ import annotations

import pytest

from servelab.bench import runner
from servelab.engines import get_engine
from servelab.gpu import visible_gpus
from servelab.recipe import load_recipe

H200 = [
    {"index": 0, "name": "NVIDIA H200", "memory_gib": 140.4, "driver": "580"},
    {"index": 1, "name": "NVIDIA H200", "memory_gib": 140.4, "driver": "580"},
]


def test_visible_gpus_filters_by_index_then_count():
    assert [g["index"] for g in visible_gpus(H200, None)] == [0, 1]
    assert [g["index"] for g in visible_gpus(H200, None, 1)] == [0]
    assert [g["index"] for g in visible_gpus(H200, "1")] == [1]
    assert [g["index"] for g in visible_gpus(H200, "1,0", 1)] == [1]
    # UUIDs or MIG names cannot be matched to NVML indices here: keep every GPU
    assert len(visible_gpus(H200, "GPU-0123")) == 2
    assert visible_gpus(H200, None, 0) == []


def _recipe(tmp_path, engine: str, body: str):
    path = tmp_path / "r.yaml"
    head = f"name: r\nversion: 1.0.0\nengine: {{name: {engine}}}\nmodel: {{id: m}}\n"
    path.write_text(head + body)
    return load_recipe(path)


@pytest.mark.parametrize(
    ("engine", "body", "used"),
    [
        ("vllm", "", 1),
        ("vllm", "parallel: {tensor: 2}", 2),
        ("vllm", "parallel: {tensor: 2, pipeline: 2}", 4),
        ("llamacpp", "", 0),
        ("llamacpp", "runtime: {gpu_layers: 99}", None),
        ("llamacpp", "runtime: {gpu_layers: 99}\nparallel: {split_mode: none}", 1),
    ],
)
def test_gpus_used_per_engine(tmp_path, engine, body, used):
    recipe = _recipe(tmp_path, engine, body)
    assert get_engine(engine).gpus_used(recipe) == used


def test_bench_provenance_names_the_gpus_of_a_tensor_1_recipe(tmp_path, monkeypatch):
    monkeypatch.setattr("servelab.gpu.detect_gpus", lambda: H200)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)

    class Endpoint:
        url, model, engine_version, recipe = "http://127.0.0.1:1", "m", "0.22.0", None

    tp1 = runner.target_for_recipe(_recipe(tmp_path, "vllm", ""), Endpoint)
    tp2 = runner.target_for_recipe(_recipe(tmp_path, "vllm", "parallel: {tensor: 2}"), Endpoint)
    pinned = runner.target_for_recipe(
        _recipe(tmp_path, "vllm", "env: {CUDA_VISIBLE_DEVICES: '1'}"), Endpoint
    )
    assert [g["index"] for g in runner._gpus(tp1)] == [0]
    assert [g["index"] for g in runner._gpus(tp2)] == [0, 1]
    assert [g["index"] for g in runner._gpus(pinned)] == [1]
