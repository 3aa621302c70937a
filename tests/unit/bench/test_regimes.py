"""Regime detection: the post's 5-fast/4-slow cycle versus its two steady tables."""

from __future__ import annotations

import pytest

from servelab.bench.regimes import detect_regimes
from tests.unit.bench.test_stats import FIRST_TABLE, SECOND_TABLE_WARM

FIVE_FAST_FOUR_SLOW = [221.4, 218.9, 222.7, 219.5, 220.3, 61.2, 58.7, 60.9, 59.4]


def test_five_fast_four_slow_is_bimodal():
    regimes = detect_regimes(FIVE_FAST_FOUR_SLOW)
    assert regimes.bimodal
    assert regimes.pattern == "FFFFFSSSS"
    fast, slow = regimes.clusters
    assert fast.runs == [1, 2, 3, 4, 5] and slow.runs == [6, 7, 8, 9]
    assert fast.mean == pytest.approx(220.56)
    assert slow.mean == pytest.approx(60.05)
    assert "not representative" in regimes.note


def test_cycle_that_recovers_keeps_run_order_and_given_indices():
    values = [220.0, 221.0, 60.0, 61.0, 219.0, 222.0]
    regimes = detect_regimes(values, indices=[2, 3, 4, 5, 6, 7])
    assert regimes.pattern == "FFSSFF"
    assert regimes.clusters[1].runs == [4, 5]


@pytest.mark.parametrize("values", [FIRST_TABLE, SECOND_TABLE_WARM])
def test_the_posts_steady_tables_are_not_bimodal(values):
    regimes = detect_regimes(values)
    assert not regimes.bimodal and regimes.pattern is None and regimes.clusters == []


def test_one_outlier_is_not_a_regime():
    assert not detect_regimes([250.1, 249.8, 251.0, 60.0, 250.4, 249.9]).bimodal


def test_close_clusters_are_not_bimodal():
    # well separated relative to σ, but the slow mean is only 10 % below the fast one
    assert not detect_regimes([250.0, 250.2, 249.9, 225.0, 225.1, 224.9]).bimodal


def test_too_few_runs():
    assert not detect_regimes([220.0, 60.0, 221.0]).bimodal
