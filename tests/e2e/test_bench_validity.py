"""Issue 15 on the CLI: bursts are invalid with their evidence, only valid runs count, the
server's own figure is stored beside servelab's, ranking needs evidence, JSON is clean."""

from __future__ import annotations

import json
import statistics

import pytest

from servelab.bench import validity
from servelab.store import Store
from tests.fakes.fault_server import FaultServer


def bench(run_cli, server: FaultServer, db: str, *extra: str, runs: int = 5, tokens: int = 100):
    return run_cli(
        "bench",
        "--endpoint",
        server.url,
        "--model",
        "fake-model",
        "--runs",
        str(runs),
        "--tokens",
        str(tokens),
        "--db",
        db,
        "--json",
        "-",
        *extra,
    )


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "v.db")


def test_a_buffering_proxy_gives_no_figure_anywhere(run_cli, db):
    with FaultServer(mode="buffered", rate=500.0, timings=True, metrics=None) as server:
        done = bench(run_cli, server, db, runs=3)
        truth = [(s.tokens - 1) / (s.t_last - s.t_first) for s in server.requests]
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()[-1:]
    assert line.startswith("servelab: bench ") and " is invalid: no valid run of 3" in line
    assert "burst (no decode window): 100 content chunks in 1 reads" in line
    data = json.loads(done.stdout)  # stdout holds only the JSON document
    assert data["schema_version"] == 1 and data["status"] == "invalid"
    assert data["summary"]["n"] == 0
    for run, true_tps in zip(data["runs"], truth, strict=True):
        assert run["valid"] is False and run["invalid_reason"].startswith("burst")
        assert run["server_decode_tps"] == pytest.approx(true_tps, rel=1e-6)  # the real speed
    assert "the server's own figure (real speed)" in done.stderr
    bench_id = data["id"]
    board = json.loads(run_cli("board", "--json", "-", "--db", db).stdout)
    assert board["rows"] == []
    history = run_cli("board", "--all", "--db", db)
    assert bench_id in history.stdout and "invalid" in history.stdout
    compared = run_cli("compare", bench_id, bench_id, "--db", db)
    assert compared.returncode == 2 and "is invalid" in compared.stderr
    recommended = run_cli("recommend", "--db", db)
    assert recommended.returncode == 1 and "no measured benches" in recommended.stderr


def test_a_burst_in_run_2_of_5_leaves_the_other_runs(run_cli, db):
    script = ["normal", "buffered"]
    with FaultServer(script=script, rate=200.0, timings=True, metrics=None) as server:
        done = bench(run_cli, server, db, "--keep-cold")
        truth = [
            (served.tokens - 1) / (served.t_last - served.t_first)
            for served in server.requests
            if served.mode == "normal"
        ]
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    valid = [run for run in data["runs"] if run["valid"]]
    assert [run["index"] for run in valid] == [1, 3, 4, 5]
    run2 = data["runs"][1]
    assert run2["valid"] is False and run2["invalid_reason"].startswith("burst")
    assert data["summary"]["n"] == 4
    assert data["summary"]["mean"] == pytest.approx(statistics.fmean(truth), rel=0.01)
    assert "run 2 invalid: burst" in done.stderr
    with Store(db) as store:
        [stored] = store.benches()
    assert [run.valid for run in stored.runs] == [True, False, True, True, True]
    shown = run_cli("runs", data["id"], "--db", db)
    assert shown.returncode == 0 and "run 2 invalid: burst" in shown.stdout


@pytest.mark.parametrize(
    ("rate", "per_chunk", "tokens"),
    [(2000.0, 1, 1000), (1500.0, 3, 900)],
    ids=["plain-2000-tps", "speculative-3-per-chunk"],
)
def test_fast_and_speculative_streams_stay_valid(run_cli, db, rate, per_chunk, tokens):
    with FaultServer(rate=rate, tokens_per_chunk=per_chunk, timings=True, metrics=None) as server:
        done = bench(run_cli, server, db, runs=3, tokens=tokens)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["status"] == "complete"
    for run in data["runs"]:
        assert run["valid"] is True, run["invalid_reason"]
        assert run["server_decode_tps"] is not None
    assert data["summary"]["n"] == 2


def test_vllm_metrics_window_gives_each_run_the_servers_figure(run_cli, db):
    with FaultServer(rate=400.0, metrics="vllm") as server:
        done = bench(run_cli, server, db, runs=3, tokens=80)
        truth = [(s.tokens - 1) / (s.t_last - s.t_first) for s in server.requests]
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["provenance"]["engine"] == "vllm"
    for run, true_tps in zip(data["runs"], truth, strict=True):
        assert run["server_source"] == "metrics" and run["valid"] is True
        assert run["server_decode_tps"] == pytest.approx(true_tps, rel=1e-6)


def test_forget_asks_then_removes_a_bench_and_its_runs(run_cli, db):
    with FaultServer(mode="http500") as server:
        done = bench(run_cli, server, db, runs=2)
    assert done.returncode == 1
    data = json.loads(done.stdout)
    assert data["status"] == "failed" and data["reason"].startswith("all 2 runs failed")
    bench_id = data["id"]
    kept = run_cli("forget", bench_id, "--db", db, input_text="n\n")
    assert kept.returncode == 2 and "not removed" in kept.stderr
    assert run_cli("runs", bench_id, "--db", db).returncode == 0
    gone = run_cli("forget", bench_id, "--yes", "--db", db)
    assert gone.returncode == 0 and f"removed bench {bench_id}" in gone.stdout
    missing = run_cli("runs", bench_id, "--db", db)
    assert missing.returncode == 2 and bench_id in missing.stderr
    with Store(db) as store:
        assert store.benches() == []


@pytest.mark.llama
def test_real_llama_server_runs_store_the_servers_figure_and_agree(run_cli, tmp_path, db):
    done = run_cli(
        "bench", "local-stories260k", "--runs", "4", "--tokens", "400",
        "--json", "-", "--db", db,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    with Store(db) as store:
        [stored] = store.benches()
    for run in stored.runs:
        assert run.ok and run.server_source == "response"
        assert run.server_decode_tps is not None and run.decode_tps is not None
        # agreement within the documented tolerance (25 %, or decode windows within 20 ms)
        assert validity.disagreement_reason(run) is None, (run.decode_tps, run.server_decode_tps)
        assert run.valid is True, run.invalid_reason
    assert [run["server_decode_tps"] for run in data["runs"]] == [
        run.server_decode_tps for run in stored.runs
    ]
    assert "server t/s" in done.stderr
