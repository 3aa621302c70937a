"""`servelab bench` end to end: the real llama-server, fault injection, JSON contract."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from importlib import resources

import jsonschema
import pytest

from servelab.store import Store
from tests.fakes.fault_server import FaultServer, SpecProfile


def bench_schema() -> dict:
    return json.loads(resources.files("servelab").joinpath("schemas/bench.json").read_text())


@pytest.mark.llama
def test_real_llama_server_draft_recipe_acceptance_from_metrics_and_timings(run_cli, tmp_path):
    out = tmp_path / "bench.json"
    result = run_cli("bench", "local-stories260k-draft", "--runs", "5", "--json", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    jsonschema.validate(data, bench_schema())
    assert len(data["runs"]) == 5 and all(run["ok"] for run in data["runs"])
    assert data["runs"][0]["cold"] and data["summary"]["n"] == 4
    assert all(run["output_tokens"] == 400 for run in data["runs"])  # server usage, not chunks
    spec = data["spec"]
    assert spec["source"] == "metrics"
    assert spec["drafted"] > 0
    assert spec["acceptance_rate"] == pytest.approx(spec["accepted"] / spec["drafted"])
    # the same window seen two ways: /metrics deltas and the sum of the responses' timings
    assert (spec["timings_drafted"], spec["timings_accepted"]) == (
        spec["drafted"],
        spec["accepted"],
    )
    assert spec["mean_acceptance_length"] == pytest.approx(1 + spec["accepted"] / spec["drafts"])
    for index in range(1, 6):
        assert f"│   {index} │" in result.stdout
    assert "decode t/s = (output_tokens − 1) / (t_last_chunk − t_first_token)" in result.stdout
    assert "acceptance α = Δaccepted / Δdrafted" in result.stdout


def test_faults_are_failed_runs_and_the_rest_is_stored(run_cli, tmp_path):
    db = tmp_path / "r.db"
    script = ["normal", "die", "normal", "malformed", "http500", "normal", "hang", "normal"]
    with FaultServer(script=script, rate=2000, hang_s=20) as server:
        out = tmp_path / "b.json"
        result = run_cli(
            "bench",
            "--endpoint",
            server.url,
            "--model",
            "fake-model",
            "--runs",
            "8",
            "--tokens",
            "60",
            "--timeout",
            "2",
            "--db",
            str(db),
            "--json",
            str(out),
        )
    assert result.returncode == 1
    assert "4 of 8 runs failed; all runs are stored" in result.stderr
    data = json.loads(out.read_text())
    jsonschema.validate(data, bench_schema())
    failed = {run["index"]: run["error"] for run in data["runs"] if not run["ok"]}
    assert set(failed) == {2, 4, 5, 7}
    assert "mid-stream" in failed[2]
    assert "malformed" in failed[4] or "JSON" in failed[4]
    assert "500" in failed[5]
    assert "timeout" in failed[7]
    assert data["summary"]["n"] == 3  # runs 3, 6, 8 (run 1 is cold)
    stored = Store(str(db)).benches()
    assert len(stored) == 1 and len(stored[0].runs) == 8
    assert stored[0].status == "complete"


def test_concurrency_levels_and_spec_from_fake_metrics(run_cli, tmp_path):
    with FaultServer(rate=1000, timings=True, spec=SpecProfile(), metrics="vllm") as server:
        out = tmp_path / "b.json"
        result = run_cli(
            "bench",
            "--endpoint",
            server.url,
            "--model",
            "fake-model",
            "--runs",
            "3",
            "--tokens",
            "80",
            "--concurrency",
            "1,4",
            "--k",
            "3",
            "--db",
            str(tmp_path / "r.db"),
            "--json",
            str(out),
        )
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    jsonschema.validate(data, bench_schema())
    levels = {level["concurrency"]: level for level in data["concurrency"]}
    assert set(levels) == {1, 4}
    assert levels[4]["requests"] == 16 and levels[4]["ok"] == 16  # sustained: max(16, 4 × 4)
    assert levels[4]["aggregate_tps"] > levels[1]["aggregate_tps"]
    assert "concurrency 4: aggregate" in result.stdout


def test_interrupted_bench_keeps_finished_runs(tmp_path):
    db = tmp_path / "r.db"
    with FaultServer(rate=100) as server:  # 50 tokens → ~0.5 s a run
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "servelab",
                "bench",
                "--endpoint",
                server.url,
                "--model",
                "fake-model",
                "--runs",
                "50",
                "--tokens",
                "50",
                "--db",
                str(db),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(server.requests) < 4:
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130  # SIGINT: 128 + 2, as `up`, `check` and `tune` exit
    assert "interrupted:" in err and "finished runs kept" in err
    stored = Store(str(db)).benches()
    assert stored[0].status == "interrupted"
    assert len(stored[0].runs) >= 3


def test_unreachable_endpoint_is_one_line(run_cli, tmp_path):
    result = run_cli("bench", "--endpoint", "http://127.0.0.1:9", "--db", str(tmp_path / "r.db"))
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "unreachable" in result.stderr


def test_recipe_and_endpoint_together_is_bad_input(run_cli):
    result = run_cli("bench")
    assert result.returncode == 2 and "give a RECIPE or --endpoint" in result.stderr
