"""The server's own figures over a level: counter deltas parsed with the engine's names."""

from __future__ import annotations

import pytest

from servelab.engines import get_engine
from servelab.load import server
from servelab.load.worker import Outcome
from tests.support import DATA


def _snapshot(engine, text: str, monkeypatch) -> dict:
    monkeypatch.setattr(server, "fetch_metrics", lambda url, api_key=None: text)
    return server.snapshot(engine, "http://x", None)


def test_llamacpp_counters_give_server_tps_and_decode_rate(monkeypatch):
    engine = get_engine("llamacpp")
    before = _snapshot(engine, (DATA / "metrics/llamacpp_spec_before.txt").read_text(), monkeypatch)
    after = _snapshot(engine, (DATA / "metrics/llamacpp_spec_after.txt").read_text(), monkeypatch)
    figures = server.figures(before, after, 2.0, [])
    tokens = after["generated_tokens"] - before["generated_tokens"]
    seconds = after["decode_seconds"] - before["decode_seconds"]
    assert figures.source == "metrics" and figures.generated_tokens == tokens > 0
    assert figures.output_tps == pytest.approx(tokens / 2.0)
    assert figures.decode_tps == pytest.approx(tokens / seconds)


def test_vllm_counters_subtract_the_first_token_of_each_decoded_request(monkeypatch):
    engine = get_engine("vllm")
    text = (
        'vllm:generation_tokens_total{{engine="0"}} {g}\n'
        'vllm:request_decode_time_seconds_sum{{engine="0"}} {s}\n'
        'vllm:request_decode_time_seconds_count{{engine="0"}} {n}\n'
    )
    before = _snapshot(engine, text.format(g=100, s=1.0, n=2), monkeypatch)
    after = _snapshot(engine, text.format(g=1100, s=11.0, n=12), monkeypatch)
    figures = server.figures(before, after, 4.0, [])
    assert figures.output_tps == pytest.approx(250.0)
    assert figures.decode_tps == pytest.approx((1000 - 10) / 10.0)


def test_no_counters_fall_back_to_the_responses_timings(monkeypatch):
    ok = [Outcome(True, None, 10, 1, 0.1, 0.01, 0.2, None, 0.0, 0.2, "a", 90.0)]
    figures = server.figures(None, None, 1.0, ok)
    assert figures.source == "timings" and figures.decode_tps == 90.0
    assert server.figures(None, None, 1.0, []).source is None
    assert _snapshot(get_engine("vllm"), "", monkeypatch) is None
