"""The engine registry: adapters register themselves; lookups, listing order, log guessing."""

from __future__ import annotations

from pathlib import Path

import pytest

import servelab.engines as engines
from servelab.engines import detect_engine, engine_names, get_engine, register
from servelab.engines.base import Engine
from servelab.errors import BadInput

SRC = Path(engines.__file__).resolve().parents[1]


def test_every_module_in_the_folder_registers_its_adapter():
    assert engine_names()[:2] == ["vllm", "llamacpp"]  # the listing order doctor shows
    assert "sglang" in engine_names()
    for name in engine_names():
        assert get_engine(name).name == name


def test_an_unknown_engine_is_bad_input_naming_the_known_ones():
    with pytest.raises(BadInput) as info:
        get_engine("tgi")
    assert str(info.value).startswith("engine.name: unknown engine 'tgi' (expected vllm or ")


def test_a_decorated_class_is_an_engine_without_any_other_edit(monkeypatch):
    monkeypatch.setattr(engines, "_REGISTRY", dict(engines._REGISTRY))

    @register
    class Toy(Engine):
        name = "toy"
        metric_prefix = "toy:"
        default_port = 1

        def argv(self, recipe, *, host, port, resolve_models=True):
            return ["toy", "--port", str(port)]

        def find_binary(self, recipe=None):
            return None

        def binary_version(self, path):
            return None

        def api_key_env(self):
            return "TOY_KEY"

        def diagnose(self, log):
            return None

    assert isinstance(get_engine("toy"), Toy)
    assert engine_names()[-1] == "toy"


def test_the_skeleton_engine_is_named_in_one_source_file_only():
    naming = [
        path.relative_to(SRC).as_posix()
        for path in SRC.rglob("*.py")
        if "sglang" in path.read_text().lower()
    ]
    assert naming == ["engines/sglang.py"]


def test_logs_are_tried_on_the_likelier_engine_first():
    llama_log = "llama_model_load: error loading model: bad magic\n"
    assert [e.name for e in engines._likely_first(llama_log)][0] == "llamacpp"
    assert [e.name for e in engines._likely_first("vllm INFO  llama-server")][0] == "vllm"
    assert [e.name for e in engines._likely_first("nothing known")][0] == "vllm"


def test_detect_engine_reads_the_skeleton_engine_version(fake_http):
    with fake_http({"/get_server_info": {"version": "0.9.9"}, "/health": {}}) as url:
        engine, version = detect_engine(url)
    assert engine is not None and engine.name == "sglang"
    assert version == "sglang 0.9.9"


def test_detect_engine_knows_llamacpp_by_its_props_without_a_version(fake_http):
    with fake_http({"/props": {"build_info": "b0-unknown"}}) as url:
        engine, version = detect_engine(url)
    assert (engine.name, version) == ("llamacpp", None)
