"""Context ceiling: the engine's estimate (vLLM-style), stepping down, and real launches."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

from servelab.checks.ceiling import find_ceiling
from servelab.engines.base import KV_TOO_SMALL, MODEL_NOT_FOUND, Diagnosis
from servelab.errors import EngineFailed
from servelab.recipe import Recipe, load_recipe
from tests.support import REPO


class _Starts:
    """Fault injection: a 'server' that starts only up to ``limit`` tokens of context."""

    def __init__(self, limit: int, estimate: int | None = None, kind: str = KV_TOO_SMALL):
        self.limit, self.estimate, self.kind = limit, estimate, kind
        self.tried: list[int] = []

    def __call__(self, recipe: Recipe) -> None:
        length = recipe.context.max_model_len
        self.tried.append(length)
        if length > self.limit:
            raise EngineFailed(
                f"KV cache too small for {length}",
                Diagnosis(self.kind, "too small", max_model_len_fit=self.estimate),
            )


def test_the_requested_length_that_starts_passes():
    recipe = load_recipe("local-stories260k")
    result = find_ceiling(recipe, starter=_Starts(10_000))
    expected = recipe.context.max_model_len
    assert result.passed and f"{expected} starts" in result.detail


def test_the_engine_estimate_is_confirmed_by_one_start():
    recipe = load_recipe("gemma4-26b-a4b-vision-mtp").with_value("context.max_model_len", 262144)
    starter = _Starts(203584, estimate=203584)
    result = find_ceiling(recipe, starter=starter)
    assert starter.tried == [262144, 203584]
    assert not result.passed
    assert "largest that starts: 203584 (the engine's estimate, confirmed" in result.detail


def test_without_an_estimate_it_halves_then_bisects():
    starter = _Starts(5000)
    result = find_ceiling(load_recipe("local-stories260k"), 32768, starter=starter)
    best = max(length for length in starter.tried if length <= 5000)
    assert starter.tried[:4] == [32768, 16384, 8192, 4096]
    assert 5000 - 256 <= best <= 5000
    assert f"largest that starts: {best} (stepped down" in result.detail
    assert [item["started"] for item in result.evidence] == [n <= 5000 for n in starter.tried]


def test_a_failure_unrelated_to_context_stops_at_once():
    starter = _Starts(0, kind=MODEL_NOT_FOUND)
    recipe = load_recipe("local-stories260k")
    result = find_ceiling(recipe, starter=starter)
    assert starter.tried == [recipe.context.max_model_len]
    assert not result.passed and "other than its context" in result.detail


def _fake_llama_recipe(tmp_path: Path) -> Path:
    """A recipe whose engine binary is the scripted server posing as llama-server."""
    wrapper = tmp_path / "fake-llama-server"
    wrapper.write_text(
        f"#!{sys.executable}\nimport runpy, sys\nsys.path.insert(0, {str(REPO)!r})\n"
        f"runpy.run_path({str(REPO / 'tests/fakes/scripted_server.py')!r}, run_name='__main__')\n"
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    data = load_recipe("local-stories260k").canonical()
    data["engine"]["binary"] = str(wrapper)
    data["context"]["max_model_len"] = 8192
    data["runtime"]["parallel_slots"] = None
    data["name"] = "fake-llama"
    path = tmp_path / "fake-llama.yaml"
    path.write_text(json.dumps(data))  # JSON is YAML
    return path


def test_stepping_down_through_real_launches(run_cli, tmp_path):
    recipe = _fake_llama_recipe(tmp_path)
    done = run_cli(
        "check",
        str(recipe),
        "--only",
        "ceiling",
        "--json",
        "-",
        "--no-store",
        env={"FAKE_MAX_CTX": "3000"},
    )
    assert done.returncode == 1, done.stderr
    check = json.loads(done.stdout)["checks"][0]
    tried = [(item["max_model_len"], item["started"]) for item in check["evidence"]]
    assert tried == [
        (8192, False),
        (4096, False),
        (2048, True),
        (3072, False),
        (2560, True),
        (2816, True),
    ]
    assert "largest that starts: 2816" in check["detail"]
    assert "servelab: 1 of 1 checks failed: ceiling" in done.stderr
