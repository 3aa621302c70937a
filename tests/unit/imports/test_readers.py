"""Each importer against files the real tools wrote (tests/data/imports/README.md says which)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from servelab.errors import BadInput
from servelab.imports import import_benches, read_source, reader_for
from tests.support import DATA, REPO

IMPORTS = DATA / "imports"
VLLM_REAL = (
    REPO / "benchmarks/results/vllm-0.20.2-h100/vllm-bench-serve-vllm-standin-1b-nospec.json"
)
SERVELAB_REAL = REPO / "benchmarks/results/vllm-0.20.2-h100/bench-vllm-standin-1b-nospec.json"


def _one(path: Path):
    benches = import_benches(read_source(path))
    assert len(benches) == 1
    return benches[0]


def test_vllm_bench_serve_result_maps_mean_tpot_onto_decode_tps():
    bench = _one(VLLM_REAL)
    data = json.loads(VLLM_REAL.read_text())
    origin = bench.provenance.imported
    assert origin.tool == "vllm bench serve" and origin.figure == "1000 / mean_tpot_ms"
    assert bench.summary.mean == pytest.approx(1000 / data["mean_tpot_ms"])  # 501.95
    assert round(bench.summary.mean, 2) == 501.95 and bench.summary.n == data["completed"]
    assert origin.comparable  # --max-concurrency 1: one stream at a time, first token excluded
    assert "harmonic mean" in origin.note
    assert bench.reported and bench.source.startswith("imported from vllm bench serve")
    [level] = bench.concurrency
    assert level.aggregate_tps == pytest.approx(data["output_throughput"])
    assert level.ttft_p99_s == pytest.approx(data["p99_ttft_ms"] / 1000)
    assert origin.sha256 == __import__("hashlib").sha256(VLLM_REAL.read_bytes()).hexdigest()


def test_vllm_detailed_result_gives_each_request_decode_tps():
    bench = _one(IMPORTS / "vllm-bench-serve-detailed.json")
    data = json.loads((IMPORTS / "vllm-bench-serve-detailed.json").read_text())
    first = bench.runs[0]
    assert first.decode_tps == pytest.approx((2500 - 1) / sum(data["itls"][0]))
    assert bench.summary.n == 3 and bench.summary.stdev is not None
    assert bench.provenance.imported.figure.startswith("(output_len − 1) / Σ itls")


def test_unbounded_concurrency_vllm_result_is_not_ranked(tmp_path):
    data = json.loads(VLLM_REAL.read_text()) | {"max_concurrency": None}
    path = tmp_path / "rate-inf.json"
    path.write_text(json.dumps(data))
    origin = _one(path).provenance.imported
    assert not origin.comparable and "not single-stream" in origin.note


def test_servelab_own_json_is_stored_as_measured():
    bench = _one(SERVELAB_REAL)
    assert not bench.reported and bench.provenance.imported.tool == "servelab"
    assert bench.provenance.stack == "vllm-standin-1b-nospec"
    assert len(bench.runs) == len(json.loads(SERVELAB_REAL.read_text())["runs"])


@pytest.mark.parametrize("name", ["llama-bench.json", "llama-bench.jsonl"])
def test_llama_bench_tg_tests_become_unranked_benches(name):
    benches = import_benches(read_source(IMPORTS / name))
    assert benches, "at least one tg test"
    text = (IMPORTS / name).read_text()
    rows = json.loads(text) if name.endswith(".json") else list(map(json.loads, text.splitlines()))
    tg = [row for row in rows if row["n_gen"] and not row["n_prompt"]]
    assert len(benches) == len(tg)
    for bench, row in zip(benches, tg, strict=True):
        assert bench.summary.mean == pytest.approx(row["avg_ts"])
        assert [run.decode_tps for run in bench.runs] == pytest.approx(row["samples_ts"])
        assert not bench.provenance.imported.comparable
        assert "server-free" in bench.provenance.imported.note
        assert bench.provenance.stack_version.startswith(f"llama-bench tg{row['n_gen']}")


def test_unknown_and_malformed_files_are_one_line_bad_input(tmp_path):
    unknown = tmp_path / "other.json"
    unknown.write_text(json.dumps({"hello": 1}))
    with pytest.raises(BadInput, match="not a format servelab imports"):
        import_benches(read_source(unknown))
    broken = tmp_path / "broken.json"
    broken.write_text('{"mean_tpot_ms": ')
    with pytest.raises(BadInput, match="not valid JSON"):
        read_source(broken)
    zero = tmp_path / "zero.json"
    zero.write_text(json.dumps(json.loads(VLLM_REAL.read_text()) | {"mean_tpot_ms": 0}))
    with pytest.raises(BadInput, match="positive mean_tpot_ms"):
        import_benches(read_source(zero))
    assert reader_for(read_source(unknown)) is None


def test_guidellm_report_gives_each_sampled_request_decode_tps():
    path = IMPORTS / "guidellm-0.8.1-benchmarks.json"
    bench = _one(path)
    data = json.loads(path.read_text())
    requests = data["benchmarks"][0]["requests"]["successful"]
    expected = [1000 / request["inter_token_latency_ms"] for request in requests]
    assert [run.decode_tps for run in bench.runs] == pytest.approx(expected)
    assert bench.summary.mean == pytest.approx(sum(expected) / len(expected))
    origin = bench.provenance.imported
    assert (origin.tool, origin.tool_version, origin.comparable) == ("guidellm", "0.8.1", True)
    assert bench.provenance.stack_version == "guidellm synchronous"


@pytest.mark.parametrize("suffix", ["json", "csv"])
def test_aiperf_export_maps_per_user_throughput(suffix):
    bench = _one(IMPORTS / f"aiperf-0.13.0-profile_export_aiperf.{suffix}")
    data = json.loads((IMPORTS / "aiperf-0.13.0-profile_export_aiperf.json").read_text())
    per_user = data["output_token_throughput_per_user"]
    assert bench.summary.mean == pytest.approx(per_user["avg"], rel=1e-4)  # the CSV rounds
    assert bench.summary.n == per_user["count"]
    [level] = bench.concurrency
    assert level.aggregate_tps == pytest.approx(data["output_token_throughput"]["avg"], rel=1e-4)
    origin = bench.provenance.imported
    if suffix == "json":  # the JSON says the version, the model and concurrency 1
        assert (origin.tool_version, origin.comparable) == ("0.13.0", True)
        assert bench.provenance.stack == "stories260k"
    else:  # the CSV says neither: shown, not ranked
        assert not origin.comparable and "concurrency unknown" in origin.note
