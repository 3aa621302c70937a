"""A recipe with `server.api_key_env` starts, is ready, benches and checks with its key
(issue 17, item 3 / acceptance 3): the real llama-server with --api-key (LLAMA_API_KEY)."""

from __future__ import annotations

import json

import httpx
import pytest

from servelab.recipe import load_recipe

KEY = "sk-servelab-test-3317"


@pytest.fixture
def keyed_recipe(tmp_path):
    data = load_recipe("local-stories260k").canonical()
    data["name"] = "keyed-stories260k"
    data["server"]["api_key_env"] = "SL_TEST_ENGINE_KEY"
    path = tmp_path / "keyed.yaml"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.llama
def test_keyed_recipe_is_ready_benches_and_checks(keyed_recipe, tmp_path, run_cli):
    env = {"SL_TEST_ENGINE_KEY": KEY}
    up = run_cli("up", str(keyed_recipe), "--json", "--timeout", "90", env=env, timeout=120)
    assert up.returncode == 0, up.stderr  # it waited out the whole timeout before
    endpoint = json.loads(up.stdout)
    try:
        chat = {"messages": [{"role": "user", "content": "Once"}], "max_tokens": 4}
        url = endpoint["url"] + "/v1/chat/completions"
        assert httpx.post(url, json=chat, timeout=30).status_code == 401  # the key is required
        keyed = httpx.post(url, json=chat, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
        assert keyed.status_code == 200

        db, out = tmp_path / "r.db", tmp_path / "bench.json"
        bench = run_cli(
            "bench", str(keyed_recipe), "--runs", "2", "--tokens", "16",
            "--db", str(db), "--json", str(out), env=env,
        )  # fmt: skip
        assert bench.returncode == 0, bench.stderr
        runs = json.loads(out.read_text())["runs"]
        assert [run["ok"] for run in runs] == [True, True]
        assert KEY not in bench.stdout + bench.stderr + out.read_text()

        report = tmp_path / "checks.json"
        check = run_cli(
            "check", str(keyed_recipe), "--only", "tools", "--json", str(report),
            "--db", str(db), env=env,
        )  # fmt: skip
        assert "Traceback" not in check.stderr
        [tools] = json.loads(report.read_text())["checks"]
        assert "401" not in tools["detail"] and tools["evidence"][0]["answer"], tools
        assert KEY not in check.stdout + check.stderr + report.read_text()
    finally:
        assert run_cli("down", "keyed-stories260k").returncode == 0
    assert KEY not in (tmp_path / "r.db").read_bytes().decode(errors="replace")


def test_a_401_says_pass_the_key(tmp_path, run_cli):
    """Item 3: a 401 from /v1/models printed the hint "pass --model"."""
    from tests.fakes.squatter import Squatter

    with Squatter(key="right-key") as server:
        result = run_cli(
            "bench", "--endpoint", server.url, "--runs", "1", "--db", str(tmp_path / "r.db")
        )
    assert result.returncode == 1
    assert "HTTP 401: the server wants an API key; pass --api-key" in result.stderr
    assert "pass --model" not in result.stderr
