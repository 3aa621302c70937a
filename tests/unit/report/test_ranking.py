"""Ranking with evidence: no winner on < 3 valid runs or overlapping 95 % intervals; only
valid runs count in compare, tune and recommend."""

from __future__ import annotations

from servelab.records import Regimes, RunRecord
from servelab.report.board import board_rows, tie_notes
from servelab.report.headline import measured_values
from servelab.report.recommend import recommend
from servelab.store import Store
from servelab.tune.analysis import decode_values
from tests.store_samples import BASELINE_SERIES
from tests.store_samples import full_bench as sample_bench


def full_bench(stack, version, values):
    """A sample bench with steady runs (no regimes): ranked by its mean."""
    return sample_bench(stack, version, values).model_copy(
        update={"regimes": Regimes(bimodal=False)}
    )


def test_an_n1_bench_does_not_beat_an_n4_one(tmp_path):
    with Store(str(tmp_path / "r.db")) as store:
        store.save_bench(full_bench("one-run", "1.0.0", [300.0]))
        store.save_bench(full_bench("four-runs", "1.0.0", [200.0, 201.0, 199.0, 200.5]))
        pick = recommend(store)
        rows = board_rows(store)
    assert pick.best is None
    assert pick.tie == "one-run@1.0.0 has 1 valid runs (< 3)"
    assert [c.stack for c in pick.others] == ["one-run", "four-runs"]
    assert tie_notes(rows) == [
        "tie: one-run@1.0.0 ~ four-runs@1.0.0: one-run@1.0.0 has 1 valid runs (< 3)"
    ]


def test_overlapping_intervals_are_a_tie_and_separate_ones_a_winner(tmp_path):
    close = [x + 0.5 for x in BASELINE_SERIES]
    with Store(str(tmp_path / "r.db")) as store:
        store.save_bench(full_bench("a", "1.0.0", BASELINE_SERIES))
        store.save_bench(full_bench("b", "1.0.0", close))
        tie = recommend(store)
        store.save_bench(full_bench("c", "1.0.0", [x * 2 for x in BASELINE_SERIES]))
        clear = recommend(store)
    assert tie.best is None and tie.tie.startswith("95 % CIs overlap: "), tie.tie
    assert "a@1.0.0 [134.76, 137.18]" in tie.tie and "b@1.0.0 [135.26, 137.68]" in tie.tie
    assert clear.best.stack == "c" and clear.tie is None


def test_invalid_runs_never_count():
    bench = full_bench("s", "1.0.0", [100.0, 101.0, 99.0, 5000.0])
    burst = bench.runs[-2]  # the 5000 t/s single-stream run (the last run is concurrency 4)
    assert burst.decode_tps == 5000.0
    burst.valid, burst.invalid_reason = False, "burst (held at start): …"
    assert measured_values(bench) == [100.0, 101.0, 99.0]
    assert decode_values(bench) == [100.0, 101.0, 99.0]
    assert not RunRecord(index=1, ok=True, decode_tps=1.0, valid=False).counted()
