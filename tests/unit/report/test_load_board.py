"""Board and compare gain the latest load bench's saturation and goodput; a load-only bench
never stands in for a stack's headline."""

from __future__ import annotations

from servelab.report.board import board_markdown, board_rows
from servelab.report.compare import compare
from servelab.store import Store
from tests.store_samples import full_bench, sample_load


def _load_only(started_at: float, unreliable: bool):
    load = sample_load()
    load.levels[0].unreliable = "client CPU pegged" if unreliable else None
    return full_bench(started_at=started_at).model_copy(
        update={"runs": [], "summary": None, "load": load, "concurrency": []}
    )


def test_board_keeps_the_headline_and_adds_load_figures(tmp_path):
    with Store(str(tmp_path / "r.db")) as store:
        store.save_bench(full_bench(started_at=1.0).model_copy(update={"load": None}))
        store.save_bench(_load_only(2.0, unreliable=False))
        [row] = board_rows(store)
        assert row.decode_tps is not None and row.n  # the sequential bench's headline
        assert row.saturation_tps == 880.0 and row.goodput_rps == 4.0
        assert "| Saturation t/s | Goodput req/s |" in board_markdown([row])
        table = compare(store, row.stack, row.stack)
        fields = dict((name, a) for name, a, _ in table.rows)
        assert fields["Saturation t/s (load)"] == "880.00"


def test_unreliable_levels_are_not_ranked_as_goodput(tmp_path):
    with Store(str(tmp_path / "r.db")) as store:
        store.save_bench(full_bench(started_at=1.0).model_copy(update={"load": None}))
        store.save_bench(_load_only(2.0, unreliable=True))
        [row] = board_rows(store)
        assert row.goodput_rps is None
        assert "Saturation" in board_markdown([row])  # the stored saturation (reliable levels)
