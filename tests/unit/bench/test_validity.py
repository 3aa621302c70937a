"""The validity rules on hand-made runs: bursts, the server's own figure, the roofline."""

from __future__ import annotations

import pytest

from servelab.bench import validity
from servelab.bench.serverfigure import window_decode_tps
from servelab.engines import get_engine
from servelab.records import RunRecord


def run(**fields) -> RunRecord:
    """An ok 200-token run streamed at 2,000 t/s, one chunk per read, unless overridden."""
    base = dict(
        index=2,
        ok=True,
        output_tokens=200,
        chunks=200,
        reads=200,
        first_read_chunks=1,
        max_read_chunks=1,
        ttft_s=0.010,
        duration_s=0.010 + 199 / 2000,
        decode_tps=2000.0,
    )
    return RunRecord(**(base | fields))


def test_a_plain_stream_at_2000_tps_is_valid():
    assert validity.assess(run()).valid is True


def test_a_speculative_stream_with_several_tokens_per_chunk_is_valid():
    # MTP k=3 on vLLM: ~1,300 chunks for 2,500 tokens, one chunk per read.
    spec = run(output_tokens=2500, chunks=1300, reads=1300, decode_tps=400.0, duration_s=6.3)
    assert validity.assess(spec).valid is True


def test_a_stream_written_in_one_piece_is_a_burst_with_evidence():
    one_piece = run(reads=1, first_read_chunks=200, max_read_chunks=200, decode_tps=None)
    checked = validity.assess(one_piece)
    assert checked.valid is False
    assert checked.invalid_reason.startswith("burst (no decode window): 200 content chunks in 1")


def test_chunks_held_back_with_the_first_one_are_a_burst():
    # 100 of 200 chunks arrived with the first: the window misses half the generation.
    held = run(reads=101, first_read_chunks=100, decode_tps=3980.0)
    assert validity.burst_reason(held).startswith("burst (held at start)")
    # A few chunks together at the start of a short run are scheduling, not a burst.
    assert validity.burst_reason(run(output_tokens=16, chunks=16, first_read_chunks=3)) is None


def test_clumps_in_a_tiny_window_are_a_burst():
    clumps = run(reads=8, first_read_chunks=3, decode_tps=99500.0, duration_s=0.2, ttft_s=0.198)
    assert validity.burst_reason(clumps).startswith("burst (compressed)")
    # Coalesced reads of a client that lags a fast stream keep the window: not a burst.
    lagging = run(reads=20, first_read_chunks=1)
    assert validity.burst_reason(lagging) is None


def test_the_server_figure_decides_a_disagreement():
    agree = run(server_decode_tps=1950.0)
    assert validity.disagreement_reason(agree) is None
    far = run(decode_tps=6000.0, server_decode_tps=2000.0)
    reason = validity.disagreement_reason(far)
    assert "6000.00 t/s here, 2000.00 t/s by the server's own record (+200.0%" in reason
    assert reason.endswith("tolerance 25%)")
    # Short runs: windows within the slack agree whatever the ratio.
    short = run(output_tokens=8, decode_tps=2600.0, server_decode_tps=2000.0)
    assert validity.disagreement_reason(short) is None


def test_above_the_roofline_is_implausible_and_failed_runs_have_no_reason():
    assert (
        "above the roofline 1500.00" in validity.assess(run(), roofline_tps=1500.0).invalid_reason
    )
    failed = validity.assess(RunRecord(index=1, ok=False, error="HTTP 401"))
    assert failed.valid is False and failed.invalid_reason is None


def test_bench_verdicts():
    assert validity.bench_verdict([])[0] == "failed"
    failed = [RunRecord(index=1, ok=False, error="HTTP 401: bad key")]
    assert validity.bench_verdict(failed) == (
        "failed",
        "all 1 runs failed (run 1: HTTP 401: bad key)",
    )
    burst = validity.assess(run(index=1, reads=1, first_read_chunks=200, decode_tps=None))
    status, reason = validity.bench_verdict([burst])
    assert status == "invalid" and reason.startswith("no valid run of 1 (run 1: burst")
    assert validity.bench_verdict([burst, validity.assess(run())]) == ("complete", None)


def test_llamacpp_timings_and_vllm_metrics_give_the_server_figure():
    llamacpp = get_engine("llamacpp")
    assert llamacpp.decode_from_response(
        {"timings": {"predicted_n": 201, "predicted_ms": 100}}
    ) == (
        200,
        0.1,
    )
    assert llamacpp.decode_from_response({"usage": {}}) is None
    names = get_engine("vllm").decode_metric_names()
    text = (
        "# TYPE vllm:generation_tokens_total counter\n"
        'vllm:generation_tokens_total{{engine="0"}} {tokens}\n'
        "# TYPE vllm:request_decode_time_seconds histogram\n"
        'vllm:request_decode_time_seconds_bucket{{engine="0",le="+Inf"}} {count}\n'
        'vllm:request_decode_time_seconds_count{{engine="0"}} {count}\n'
        'vllm:request_decode_time_seconds_sum{{engine="0"}} {seconds}\n'
    )
    before = text.format(tokens=1000.0, count=4, seconds=2.0)
    after = text.format(tokens=1201.0, count=5, seconds=2.1)
    # one request: 201 tokens, 200 of them after the first, in 0.1 s of decode time
    assert window_decode_tps(before, after, names) == pytest.approx(2000.0)
    assert window_decode_tps(before, None, names) is None


def test_a_bench_of_load_levels_alone_is_judged_by_its_requests():
    assert validity.bench_verdict([], load_ok=64) == ("complete", None)
    assert validity.bench_verdict([], load_ok=0) == ("failed", "no load request succeeded")
