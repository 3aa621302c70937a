"""`servelab bench` load modes against the truth server (known TTFT and per-stream rate)."""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib import resources

import httpx
import jsonschema
import pytest

from servelab.store import Store
from tests.fakes.truth import TruthServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DISTRIBUTION = {"mean", "std", "p50", "p90", "p95", "p99"}
LEVEL_KEYS = {
    "mode",
    "max_concurrency",
    "request_rate",
    "requests",
    "ok",
    "duration_s",
    "output_tps",
    "request_tps",
    "max_in_flight",
    "ttft_ms",
    "tpot_ms",
    "itl_ms",
    "e2el_ms",
    "goodput_rps",
    "server",
    "client",
}


def bench_schema() -> dict:
    return json.loads(resources.files("servelab").joinpath("schemas/bench.json").read_text())


def test_max_concurrency_matches_the_truth(tmp_path, run_cli):
    rate, ttft = 100.0, 0.5  # 10 ms between tokens, 500 ms to the first
    out, db = tmp_path / "load.json", tmp_path / "r.db"
    with TruthServer(rate, ttft) as server:
        result = run_cli(
            "bench", "--endpoint", server.url, "--model", "truth",
            "--max-concurrency", "16", "--num-prompts", "64", "--output-len", "200",
            "--slo", "ttft_ms=700,tpot_ms=11", "--db", str(db), "--json", str(out),
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    jsonschema.validate(data, bench_schema())
    assert data["runs"] == [] and data["summary"]["n"] == 0  # levels never enter the headline
    (level,) = data["load"]["levels"]
    assert set(level) >= LEVEL_KEYS
    for key in ("ttft_ms", "tpot_ms", "itl_ms", "e2el_ms"):
        assert set(level[key]) == DISTRIBUTION
    assert level["requests"] == level["ok"] == 64
    assert level["max_in_flight"] == 16
    assert level["tpot_ms"]["p50"] == pytest.approx(1000 / rate, rel=0.01)
    assert level["ttft_ms"]["p50"] == pytest.approx(1000 * ttft, rel=0.05)
    assert level["output_tps"] == pytest.approx(64 * 200 / level["duration_s"])
    assert 0 < level["goodput_rps"] <= level["request_tps"]
    assert level["client"]["processes"] >= 1
    assert "TPOT = (t_last_chunk − t_first_chunk) / (output_tokens − 1)" in result.stdout
    stored = Store(str(db)).benches()[0]
    assert stored.load.levels[0].requests == 64 and stored.load.levels[0].histograms["tpot_ms"]


def test_poisson_rate_is_achieved(tmp_path, run_cli):
    out = tmp_path / "rate.json"
    with TruthServer(1000.0, 0.01) as server:
        result = run_cli(
            "bench", "--endpoint", server.url, "--model", "truth", "--request-rate", "20",
            "--num-prompts", "200", "--output-len", "20", "--db", str(tmp_path / "r.db"),
            "--json", str(out),
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (level,) = json.loads(out.read_text())["load"]["levels"]
    assert level["mode"] == "poisson" and level["request_rate"] == 20
    assert level["requests"] == level["ok"] == 200
    client = level["client"]
    assert client["achieved_rate"] == pytest.approx(20, rel=0.10)
    assert abs(client["interarrival_cv"] - 1) <= 0.2


def test_fixed_schedule_replays_the_traces_send_times(tmp_path, run_cli):
    gaps_ms = [0, 5, 5, 300, 10, 400, 0, 150, 250, 20] * 3
    stamps = [sum(gaps_ms[: i + 1]) + 1000 for i in range(len(gaps_ms))]
    rows = [{"prompt": f"p{i}", "timestamp": at} for i, at in enumerate(stamps)]
    trace = tmp_path / "trace.jsonl"
    trace.write_text("\n".join(json.dumps(row) for row in reversed(rows)) + "\n")
    out = tmp_path / "trace.json"
    with TruthServer(1000.0, 0.01) as server:
        result = run_cli(
            "bench", "--endpoint", server.url, "--model", "truth", "--fixed-schedule",
            "--dataset", str(trace), "--output-len", "10", "--warmup", "0",
            "--db", str(tmp_path / "r.db"), "--json", str(out),
        )  # fmt: skip
        truth = httpx.get(server.url + "/truth").json()["requests"]
    assert result.returncode == 0, result.stderr
    (level,) = json.loads(out.read_text())["load"]["levels"]
    assert level["mode"] == "trace" and level["requests"] == level["ok"] == len(rows)
    span_s = (stamps[-1] - stamps[0]) / 1000
    assert level["request_rate"] == pytest.approx((len(rows) - 1) / span_s)
    arrived = sorted(record["t_arrived"] for record in truth.values())
    offsets_ms = [1000 * (at - arrived[0]) for at in arrived]
    wanted_ms = [at - stamps[0] for at in stamps]
    assert max(abs(a - b) for a, b in zip(offsets_ms, wanted_ms, strict=True)) < 50
    assert "req/s trace" in result.stdout and "Run" not in result.stdout


def test_runs_and_levels_keep_the_headline_to_the_runs(tmp_path, run_cli):
    out = tmp_path / "both.json"
    with TruthServer(2000.0, 0.01) as server:
        result = run_cli(
            "bench", "--endpoint", server.url, "--model", "truth", "--runs", "4",
            "--tokens", "100", "--concurrency", "1,2", "--num-prompts", "8",
            "--output-len", "50", "--db", str(tmp_path / "r.db"), "--json", str(out),
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert len(data["runs"]) == 4 and data["summary"]["n"] == 3  # run 1 is cold
    assert [level["max_concurrency"] for level in data["load"]["levels"]] == [1, 2]
    assert {level["concurrency"] for level in data["concurrency"]} == {1, 2}


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--max-concurrency", "2", "--slo", "ttft=5"], "--slo: unknown key"),
        (["--num-prompts", "5"], "--num-prompts needs a load mode"),
        (["--slo", "ttft_ms=5"], "--slo needs a load mode"),
        (["--request-rate", "0"], "every rate must be > 0"),
        (["--max-concurrency", "2", "--prefix-len", "4"], "--prefix-len needs --input-len"),
        (["--max-concurrency", "2", "--dataset", "/nonexistent.jsonl"], "no file"),
        (["--fixed-schedule"], "--fixed-schedule needs a JSONL --dataset"),
        (["--fixed-schedule", "--request-rate", "2"], "not with --concurrency, --request-rate"),
    ],
)
def test_bad_load_flags_are_one_line(flags, message, run_cli):
    result = run_cli("bench", "--endpoint", "http://127.0.0.1:9", *flags)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.llama
@pytest.mark.engine
def test_sweep_on_llama_server_reaches_saturation_and_the_report_draws_it(tmp_path, run_cli):
    """The real llama-server (CPU, 4 slots): synchronous, saturation, 2 rates; every level in the
    JSON; the HTML report's curve renders in headless Chromium."""
    out, db, page = tmp_path / "sweep.json", tmp_path / "r.db", tmp_path / "report.html"
    result = run_cli(
        "bench", "local-stories260k", "--sweep", "--sweep-rates", "2", "--max-concurrency", "8",
        "--num-prompts", "16", "--output-len", "64", "--slo", "ttft_ms=2000,tpot_ms=50",
        "--db", str(db), "--json", str(out), timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    load = json.loads(out.read_text())["load"]
    labels = [level["label"] for level in load["levels"]]
    sync, saturated = load["levels"][0], load["levels"][1]
    assert sync["max_in_flight"] == 1 and saturated["max_concurrency"] == 8
    # Rates lie strictly between the synchronous and the saturation request rate; none when the
    # 4 slots served no more than one stream did (a machine too loaded to batch).
    rates = [level["request_rate"] for level in load["levels"][2:]]
    if saturated["request_tps"] > sync["request_tps"]:
        assert labels == ["synchronous", "throughput", "rate", "rate"]
        assert sync["request_tps"] < rates[0] < rates[1] < saturated["request_tps"]
    else:
        assert labels == ["synchronous", "throughput"]
    for level in load["levels"]:
        assert level["requests"] == level["ok"] == 16
        assert level["server"]["source"] == "metrics" and level["server"]["generated_tokens"] > 0
        for key in ("ttft_ms", "tpot_ms", "itl_ms", "e2el_ms"):
            assert level[key]["p50"] > 0
    assert load["saturation_output_tps"] or all(level["unreliable"] for level in load["levels"])
    assert "saturation" in result.stdout or "UNRELIABLE" in result.stdout
    report = run_cli("report", "--html", str(page), "--db", str(db), timeout=300)
    assert report.returncode == 0, report.stderr
    html = page.read_text()
    assert 'alt="latency against throughput for local-stories260k' in html
    if CHROMIUM is not None:
        shot = tmp_path / "report.png"
        rendered = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,3000",
             f"--screenshot={shot}", page.as_uri()],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert rendered.returncode == 0, rendered.stderr[-2000:]
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
