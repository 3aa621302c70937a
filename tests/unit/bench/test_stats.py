"""Run-set statistics against the post's golden tables and known t quantiles."""

from __future__ import annotations

import pytest

from servelab.bench.stats import percentile, summarize, t_quantile

FIRST_TABLE = [250.35, 250.87, 252.97, 252.14, 249.51, 247.84, 252.48, 249.61, 248.61, 251.10]
SECOND_TABLE_WARM = [254.39, 251.89, 252.42, 250.74, 247.27, 249.58, 251.14, 253.27, 246.53]


def test_first_table_of_the_post():
    summary = summarize(FIRST_TABLE)
    assert summary.n == 10
    assert round(summary.mean, 3) == 250.548
    assert round(summary.range, 2) == 5.13
    assert round(summary.stdev, 3) == 1.687
    assert summary.median == pytest.approx((250.35 + 250.87) / 2)
    assert (summary.min, summary.max) == (247.84, 252.97)
    half = 2.262157 * summary.stdev / 10**0.5
    assert summary.ci95 == pytest.approx([summary.mean - half, summary.mean + half], abs=1e-5)
    assert summary.cv == pytest.approx(summary.stdev / summary.mean)


def test_second_table_without_its_cold_run():
    summary = summarize(SECOND_TABLE_WARM)
    assert round(summary.mean, 3) == 250.803
    assert round(summary.range, 2) == 7.86
    assert summary.median == 251.14


def test_no_and_one_value():
    empty = summarize([])
    assert empty.n == 0 and empty.mean is None and empty.stdev is None
    one = summarize([42.0])
    assert (one.n, one.mean, one.median, one.range) == (1, 42.0, 42.0, 0.0)
    assert one.stdev is None and one.ci95 is None and one.cv is None


@pytest.mark.parametrize(
    ("p", "df", "expected"),
    [
        (0.975, 1, 12.7062047),
        (0.975, 2, 4.3026527),
        (0.975, 3, 3.1824463),
        (0.975, 8, 2.3060041),
        (0.975, 9, 2.2621572),
        (0.975, 30, 2.0422725),
        (0.975, 100, 1.9839715),
        (0.95, 5, 2.0150484),
        (0.995, 4, 4.6040949),
        (0.975, 1000, 1.9623391),
    ],
)
def test_t_quantile_matches_tables(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, abs=2e-6)


def test_t_quantile_rejects_nonsense():
    with pytest.raises(ValueError):
        t_quantile(0.3, 5)
    with pytest.raises(ValueError):
        t_quantile(0.975, 0)


def test_percentiles_interpolate_between_ranks():
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert percentile(values, 50) == 3.0
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 5.0
    assert percentile(values, 99) == pytest.approx(4.96)
    assert percentile([0.2], 99) == 0.2
    assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    with pytest.raises(ValueError):
        percentile([], 50)
