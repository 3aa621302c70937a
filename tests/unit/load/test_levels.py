"""Level arithmetic without a server: in-flight peaks, shares, histograms, honesty, sweeps."""

from __future__ import annotations

import pytest

from servelab.load import honesty
from servelab.load.histo import Latency
from servelab.load.levels import Client, default_prompts, plan_shares, proportional
from servelab.load.plan import LevelSpec
from servelab.load.records import LoadLevel
from servelab.load.schedule import offsets
from servelab.load.summary import max_in_flight, meets, summarize
from servelab.load.sweep import rates_between, run_sweep
from servelab.load.worker import Outcome, ShareResult


def outcome(t_sent, t_end, ttft=0.1, tpot=0.01, tokens=11, due=None, ok=True) -> Outcome:
    e2el = t_end - t_sent
    return Outcome(ok, None if ok else "boom", tokens, 5, ttft, tpot, e2el, due, t_sent, t_end,
                   "id", None)  # fmt: skip


def test_max_in_flight_counts_overlaps_and_touching_is_not_overlap():
    assert max_in_flight([outcome(0, 2), outcome(1, 3), outcome(1.5, 4), outcome(3, 5)]) == 3
    assert max_in_flight([outcome(0, 1), outcome(1, 2)]) == 1


def test_histograms_merge_across_processes():
    one, two = Latency(), Latency()
    for value in range(1, 101):
        (one if value % 2 else two).record(value / 1000)
    merged = Latency.merged([one.encode(), two.encode()])
    summary = merged.summary()
    assert merged.count == 100
    assert summary["p50"] == pytest.approx(50, rel=0.002)
    assert summary["p99"] == pytest.approx(99, rel=0.002)
    assert summary["mean"] == pytest.approx(50.5, rel=0.002)


def test_summary_figures_and_goodput():
    outcomes = [outcome(i, i + 1.1, due=i - 0.001) for i in range(10)] + [
        outcome(10, 10.5, ok=False, tokens=None)
    ]
    result = ShareResult(outcomes=outcomes, itl_us={10_000: 90, 0: 10}, cpu_s=0.5, wall_s=10.0)
    base = LoadLevel(mode="poisson", request_rate=1.0, requests=0, ok=0, duration_s=0,
                     max_in_flight=0)  # fmt: skip
    level, _ = summarize(base, [result], {"ttft_ms": 150.0, "tpot_ms": 20.0})
    assert (level.requests, level.ok, level.max_in_flight) == (11, 10, 2)
    assert level.duration_s == pytest.approx(10.5)
    assert level.output_tps == pytest.approx(110 / 10.5)
    assert level.goodput_rps == pytest.approx(10 / 10.5)
    assert level.tpot_ms.p50 == pytest.approx(10.0, rel=0.002)
    assert level.itl_ms.p50 == pytest.approx(10.0, rel=0.002)
    assert level.client.cpu_pct == pytest.approx(5.0)
    assert level.client.send_lag_ms["p50"] == pytest.approx(1.0, rel=0.01)
    assert level.errors == ["boom"] and level.unreliable is None
    assert not meets(outcome(0, 1, ttft=0.2), {"ttft_ms": 150.0})


def test_honesty_names_every_reason():
    assert honesty.verdict(20.0, 0.5, 1.0, 2000.0, 200.0) is None
    reason = honesty.verdict(97.0, 30.0, 50.0, 1000.0, 100.0)
    assert "CPU pegged" in reason and "TPOT may be off" in reason
    assert "median TTFT" in reason and "sends late" in reason


def test_shares_split_streams_requests_and_schedules():
    payloads = [{"n": i} for i in range(10)]
    client = Client(url="http://x", processes=2)
    closed = plan_shares(LevelSpec("concurrency", max_concurrency=3), payloads, client)
    assert [s.concurrency for s in closed] == [2, 1]
    assert [len(s.payloads) for s in closed] == [7, 3]
    single = plan_shares(LevelSpec("concurrency", max_concurrency=1), payloads, client)
    assert len(single) == 1 and len(single[0].payloads) == 10
    rated = plan_shares(LevelSpec("poisson", request_rate=5.0), payloads, client)
    assert [len(s.offsets) for s in rated] == [5, 5]
    assert sorted(rated[0].offsets + rated[1].offsets) == offsets(10, 5.0, "poisson")
    assert proportional(10, [2, 1]) == [7, 3] and sum(proportional(7, [1, 1, 1])) == 7


def test_default_prompts_per_level():
    assert default_prompts(LevelSpec("concurrency", max_concurrency=1)) == 16
    assert default_prompts(LevelSpec("concurrency", max_concurrency=32)) == 128
    assert default_prompts(LevelSpec("poisson", request_rate=20.0)) == 200
    assert default_prompts(LevelSpec("poisson", request_rate=500.0)) == 1000


def test_sweep_goes_from_synchronous_to_saturation():
    assert rates_between(1.0, 5.0, 3) == [2.0, 3.0, 4.0]
    assert rates_between(5.0, 5.0, 3) == []
    seen = []

    def measure(spec):
        seen.append(spec)
        rps = {"synchronous": 1.0, "throughput": 6.0}.get(spec.label, spec.request_rate)
        return LoadLevel(mode=spec.mode, requests=1, ok=1, duration_s=1.0, max_in_flight=1,
                         request_tps=rps)  # fmt: skip

    levels = run_sweep(measure, rates=4, concurrency=8)
    assert [s.label for s in seen] == ["synchronous", "throughput", "rate", "rate", "rate", "rate"]
    assert seen[1].max_concurrency == 8
    assert [s.request_rate for s in seen[2:]] == [2.0, 3.0, 4.0, 5.0]
    assert len(levels) == 6
