"""Supervised engines: the real llama-server up and down, failures, no orphans."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from servelab.launch import launch, log_path_for
from servelab.procgroup import group_alive
from servelab.recipe import load_recipe
from tests.support import fake_engine_pids, pid_alive

FAKES = Path(__file__).resolve().parents[1] / "fakes"


def _wait_gone(pids: list[int], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(pid_alive(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.llama
def test_up_ready_chat_down_leaves_no_process(run_cli):
    up = run_cli("up", "local-stories260k", "--json")
    assert up.returncode == 0, up.stderr
    import json

    endpoint = json.loads(up.stdout)
    pid = endpoint["pid"]
    assert group_alive(pid)
    assert endpoint["url"].startswith("http://127.0.0.1:")
    reply = httpx.post(
        endpoint["url"] + "/v1/chat/completions",
        json={
            "messages": [{"role": "user", "content": "Once upon a time"}],
            "max_tokens": 16,
            "temperature": 0,
        },
        timeout=30,
    ).json()
    assert reply["usage"]["completion_tokens"] == 16
    assert reply["choices"][0]["message"]["content"]
    status = run_cli("status", "--json")
    assert json.loads(status.stdout)["items"][0]["ready"] is True
    down = run_cli("down", "local-stories260k")
    assert down.returncode == 0, down.stderr
    assert not group_alive(pid)
    assert not pid_alive(endpoint["keeper_pid"])
    assert json.loads(run_cli("status", "--json").stdout) == {"schema_version": 1, "items": []}


@pytest.mark.llama
def test_python_api_context_manager():
    with launch(load_recipe("local-stories260k")) as ep:
        pid = ep.pid
        assert httpx.get(ep.url + "/health", timeout=5).status_code == 200
        assert ep.engine == "llamacpp" and ep.engine_version
    assert not group_alive(pid)


@pytest.mark.llama  # the binary is found before the model is looked for
def test_missing_model_file_exit_3(run_cli, tmp_path):
    recipe = tmp_path / "missing.yaml"
    recipe.write_text(
        "name: missing\nengine: {name: llamacpp}\nmodel: {id: /nonexistent/none.gguf}\n"
    )
    result = run_cli("up", str(recipe))
    assert result.returncode == 3
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "model /nonexistent/none.gguf not found" in line


@pytest.mark.llama
def test_corrupt_model_is_classified_by_the_engine_log(run_cli, tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file at all" * 10)
    recipe = tmp_path / "broken.yaml"
    recipe.write_text(f"name: broken\nengine: {{name: llamacpp}}\nmodel: {{id: {broken}}}\n")
    result = run_cli("up", str(recipe))
    assert result.returncode == 3
    assert "could not load the model (the file is not a GGUF model)" in result.stderr
    assert "Traceback" not in result.stderr


def _fake_recipe(tmp_path: Path, *extra: str) -> Path:
    script = tmp_path / "engine.sh"
    args = " ".join(extra)
    script.write_text(f"#!/bin/sh\nexec {sys.executable} {FAKES / 'slow_engine.py'} {args}\n")
    script.chmod(0o755)
    recipe = tmp_path / "slow.yaml"
    recipe.write_text(
        f"name: slow\nengine: {{name: llamacpp, binary: {script}}}\n"
        f"model: {{id: {FAKES / 'slow_engine.py'}}}\n"
    )
    return recipe


def _engine_pids(timeout: float = 20) -> tuple[int, int]:
    return fake_engine_pids(log_path_for("slow"), timeout)


@pytest.mark.parametrize("how", ["sigint", "sigkill"])
def test_interrupting_up_while_loading_leaves_no_engine(tmp_path, how):
    recipe = _fake_recipe(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "servelab", "up", str(recipe), "--timeout", "120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    engine, child = _engine_pids()
    assert pid_alive(engine) and pid_alive(child)
    proc.send_signal(signal.SIGINT if how == "sigint" else signal.SIGKILL)
    proc.wait(timeout=30)
    assert _wait_gone([engine, child]), "engine or its child survived"
    if how == "sigint":
        assert proc.returncode == 130


def test_timeout_kills_an_engine_that_ignores_sigterm(run_cli, tmp_path):
    recipe = _fake_recipe(tmp_path, "--ignore-term")
    started = time.monotonic()
    result = run_cli("up", str(recipe), "--timeout", "2")
    assert result.returncode == 3
    assert "not ready within 2 s" in result.stderr
    engine, child = _engine_pids()
    assert _wait_gone([engine, child])
    assert time.monotonic() - started < 60


def _fake_vllm_recipe(tmp_path: Path) -> Path:
    script = tmp_path / "vllm"
    script.write_text(f'#!/bin/sh\nexec {sys.executable} {FAKES / "fake_vllm.py"} "$@"\n')
    script.chmod(0o755)
    recipe = tmp_path / "fit.yaml"
    recipe.write_text(
        f"name: fit\nengine: {{name: vllm, binary: {script}}}\nmodel: {{id: {tmp_path}}}\n"
        "context: {max_model_len: 8192}\n"
    )
    return recipe


def test_fit_context_follows_a_drifting_engine_estimate(run_cli, tmp_path, monkeypatch):
    """As seen on a real vLLM 0.20.2: estimate 3968 at 8192, then 3168 at 3968."""
    monkeypatch.setenv("SERVELAB_GPU_COUNT", "1")
    monkeypatch.setenv("FAKE_STATE", str(tmp_path / "launches"))
    monkeypatch.setenv("FAKE_CAPACITY", "3200")
    monkeypatch.setenv("FAKE_ESTIMATES", "3968,3168")
    recipe = _fake_vllm_recipe(tmp_path)
    plain = run_cli("up", str(recipe), "--timeout", "30")
    assert plain.returncode == 3
    assert "the largest context that fits is 3968; rerun with --max-model-len 3968" in (
        plain.stderr
    )
    import json

    (tmp_path / "launches").unlink()
    fitted = run_cli("up", str(recipe), "--timeout", "30", "--fit-context", "--json")
    assert fitted.returncode == 0, fitted.stderr
    endpoint = json.loads(fitted.stdout)
    assert endpoint["max_model_len"] == 3168
    assert len(endpoint["notes"]) == 2
    assert "relaunching with max_model_len 3968" in endpoint["notes"][0]
    assert "relaunching with max_model_len 3168" in endpoint["notes"][1]
    assert run_cli("down", "fit").returncode == 0
    assert not group_alive(endpoint["pid"])


def test_fit_context_gives_up_after_three_launches(run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("SERVELAB_GPU_COUNT", "1")
    monkeypatch.setenv("FAKE_STATE", str(tmp_path / "launches"))
    monkeypatch.setenv("FAKE_CAPACITY", "100")
    monkeypatch.setenv("FAKE_ESTIMATES", "3968")
    result = run_cli("up", str(_fake_vllm_recipe(tmp_path)), "--timeout", "30", "--fit-context")
    assert result.returncode == 3
    assert "KV cache too small" in result.stderr
    assert (tmp_path / "launches").read_text() == "3"


def test_up_shows_elapsed_time_and_the_last_log_line_while_loading(run_cli, tmp_path):
    recipe = _fake_recipe(tmp_path, "--ignore-term")
    result = run_cli("up", str(recipe), "--timeout", "4")
    assert result.returncode == 3
    # Not a terminal: plain lines (at most one per 10 s), elapsed time and the log's last line.
    assert re.search(r"loading \d+ s · starting · loading model …", result.stderr), result.stderr
    engine, child = _engine_pids()
    assert _wait_gone([engine, child])
