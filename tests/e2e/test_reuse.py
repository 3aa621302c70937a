"""An engine `servelab up` started is reused by `check RECIPE` (no second engine, its log kept),
and an endpoint bench without --name is named after the server (model id and host:port)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from servelab.launch import log_path_for
from tests.support import pid_alive

RECIPE = "local-stories260k"


def _status(run_cli) -> list[dict]:
    done = run_cli("status", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["items"]


@pytest.mark.llama
def test_check_and_endpoint_bench_reuse_the_engine_that_is_up(run_cli, tmp_path):
    up = run_cli("up", RECIPE, "--json")
    assert up.returncode == 0, up.stderr
    endpoint = json.loads(up.stdout)
    log = Path(log_path_for(RECIPE))
    first_line = log.read_text(errors="replace").splitlines()[0]
    try:
        check = run_cli("check", RECIPE, "--only", "tools", "--db", str(tmp_path / "r.db"))
        assert check.returncode in (0, 1), check.stderr  # the tiny model may fail the check
        assert f"using {RECIPE} already up at {endpoint['url']} (pid {endpoint['pid']})" in (
            check.stderr
        )
        [engine] = _status(run_cli)  # still one engine: the same process, still ready
        assert (engine["pid"], engine["ready"]) == (endpoint["pid"], True)
        assert pid_alive(endpoint["pid"])
        assert log.read_text(errors="replace").splitlines()[0] == first_line  # not overwritten

        out = tmp_path / "bench.json"
        bench = run_cli(
            "bench", "--endpoint", endpoint["url"], "--runs", "2", "--tokens", "16",
            "--json", str(out), "--db", str(tmp_path / "r.db"),
        )  # fmt: skip
        assert bench.returncode == 0, bench.stderr
        prov = json.loads(out.read_text())["provenance"]
        port = endpoint["url"].rsplit(":", 1)[1]
        assert prov["stack"] == f"stories260k.gguf (127.0.0.1:{port})"
        assert prov["stack_version"] not in ("endpoint", "") and "/" not in prov["stack"]
    finally:
        assert run_cli("down", RECIPE).returncode == 0
    assert not pid_alive(endpoint["pid"])
