"""The metric catalogue: each formula on worked numbers, and one printed text per figure."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from servelab import metrics

SRC = Path(metrics.__file__).resolve().parent


def test_decode_tps_is_tokens_minus_one_over_the_decode_window():
    assert metrics.decode_tps(101, 10.0, 10.5) == pytest.approx(200.0)
    assert metrics.decode_tps(1, 10.0, 10.5) is None  # one token: no decode window
    assert metrics.decode_tps(100, 10.0, 10.0) is None  # zero window: no figure
    assert metrics.decode_tps(None, 1.0, 2.0) is None


def test_e2e_ttft_and_server_figure():
    assert metrics.e2e_tps(100, 0.0, 2.0) == pytest.approx(50.0)
    assert metrics.e2e_tps(100, 2.0, 2.0) is None
    assert metrics.ttft(1.0, 1.25) == pytest.approx(0.25)
    assert metrics.ttft(1.0, None) is None
    assert metrics.server_decode_tps(200, 0.1) == pytest.approx(2000.0)
    assert metrics.server_decode_tps(200, 0) is None
    # vLLM's window: 2 requests, 402 tokens generated, 0.2 s of decode time in all
    assert metrics.server_decode_window(402, 2, 0.2) == (400, 0.2)
    assert metrics.disagreement(2020.0, 2000.0) == pytest.approx(0.01)
    assert metrics.disagreement(None, 2000.0) is None


def test_acceptance_figures_match_the_post():
    # The post: 25920 accepted of 29997 drafted = 86.41 %.
    assert metrics.acceptance_rate(25920, 29997) == pytest.approx(0.8641, abs=5e-5)
    assert metrics.acceptance_rate(1, 0) is None
    assert metrics.mean_acceptance_length(300, 100) == pytest.approx(4.0)
    assert metrics.per_position_rates([90, 60, 30], 100) == pytest.approx([0.9, 0.6, 0.3])
    assert metrics.tokens_per_step_estimate(0.8, 3) == pytest.approx(3.4)
    assert metrics.tokens_per_step_estimate(None, 3) is None


def test_aggregate_is_tokens_over_first_request_to_last_chunk():
    runs = [
        SimpleNamespace(ok=True, output_tokens=100, started_at=10.0, duration_s=1.0),
        SimpleNamespace(ok=True, output_tokens=100, started_at=10.5, duration_s=1.5),
        SimpleNamespace(ok=False, output_tokens=None, started_at=9.0, duration_s=9.0),
    ]
    # 200 tokens from 10.0 (first request) to 12.0 (last chunk); the failed run does not count.
    assert metrics.aggregate_tps(runs) == pytest.approx(100.0)
    assert metrics.aggregate_tps(runs[2:]) is None


def test_every_catalogue_entry_is_complete():
    for key, metric in metrics.CATALOGUE.items():
        assert metric.key == key
        assert metric.label and metric.unit and metric.formula and metric.window
        assert metric.text == f"{metric.label} = {metric.formula}"


def test_formula_text_lives_only_in_the_catalogue():
    """The decode, acceptance and aggregate formulas are written once, in metrics.py."""
    formulas = [
        metrics.DECODE_TPS.formula,
        metrics.ACCEPTANCE_RATE.formula,
        metrics.MEAN_ACCEPTANCE_LENGTH.formula,
        metrics.AGGREGATE_TPS.formula,
    ]
    offenders = []
    for path in SRC.rglob("*"):
        if path.suffix not in (".py", ".j2") or path.name == "metrics.py":
            continue
        text = path.read_text(encoding="utf-8")
        offenders += [f"{path.name}: {f}" for f in formulas if f in text]
    assert offenders == []
    assert re.search(r"Δaccepted / Δdrafted", (SRC / "metrics.py").read_text())
