"""Speculative telemetry from real llama.cpp /metrics text and vLLM-shaped text."""

from __future__ import annotations

import pytest

from servelab.bench.specmetrics import (
    fetch_metrics,
    parse_spec_counters,
    spec_delta,
    timings_totals,
)
from servelab.engines import get_engine
from servelab.engines.base import SpecCounters
from servelab.errors import RunFailed
from servelab.records import RunRecord
from tests.fakes.fault_server import FaultServer, SpecProfile

DATA = __import__("pathlib").Path(__file__).resolve().parents[2] / "data" / "metrics"


def counters(engine: str, name: str) -> SpecCounters:
    text = (DATA / f"{engine}_spec_{name}.txt").read_text()
    return parse_spec_counters(text, get_engine(engine).spec_counter_names())


def test_vllm_shape_sums_labels_ignores_created_and_gives_the_posts_rate():
    before, after = counters("vllm", "before"), counters("vllm", "after")
    assert after.present
    assert (after.drafts, after.drafted, after.accepted) == (10999, 32997, 28520)
    assert after.per_position == {0: 10450, 1: 9570, 2: 8500}
    spec = spec_delta(before, after, k=3)
    assert (spec.drafts, spec.drafted, spec.accepted) == (9999, 29997, 25920)
    assert round(spec.acceptance_rate * 100, 2) == 86.41
    assert spec.mean_acceptance_length == pytest.approx(1 + 25920 / 9999)
    assert spec.per_position == pytest.approx([9500 / 9999, 8700 / 9999, 7720 / 9999])
    assert spec.estimated_tokens_per_step == pytest.approx(1 + 25920 / 29997 * 3)
    assert spec.source == "metrics" and spec.k == 3


def test_real_llamacpp_metrics():
    before, after = counters("llamacpp", "before"), counters("llamacpp", "after")
    assert (before.drafts, before.drafted, before.accepted) == (3, 8, 8)
    spec = spec_delta(before, after)
    assert (spec.drafts, spec.drafted, spec.accepted) == (100, 298, 298)
    assert spec.acceptance_rate == 1.0
    assert spec.per_position == pytest.approx([1.0, 1.0, 0.98])
    assert spec.estimated_tokens_per_step is None  # no k given


def test_no_spec_families_means_not_present():
    text = "# TYPE llamacpp:prompt_tokens_total counter\nllamacpp:prompt_tokens_total 5\n"
    found = parse_spec_counters(text, get_engine("llamacpp").spec_counter_names())
    assert not found.present and found.drafted == 0
    spec = spec_delta(found, found)
    assert spec.acceptance_rate is None and spec.mean_acceptance_length is None


def test_untyped_total_samples_are_read_too():
    text = "vllm:spec_decode_num_draft_tokens_total 12\nvllm:spec_decode_num_drafts_total 4\n"
    found = parse_spec_counters(text, get_engine("vllm").spec_counter_names())
    assert (found.drafts, found.drafted) == (4, 12)


def test_counters_going_backwards_fail():
    with pytest.raises(RunFailed, match="went backwards"):
        spec_delta(counters("vllm", "after"), counters("vllm", "before"))


def test_garbage_text_is_one_line_error():
    with pytest.raises(RunFailed, match="not Prometheus"):
        parse_spec_counters("this is { not metrics", get_engine("vllm").spec_counter_names())


@pytest.mark.parametrize("flavour", ["llamacpp", "vllm"])
def test_fetch_metrics_from_a_server_matches_its_timings(flavour):
    names = get_engine(flavour).spec_counter_names()
    with FaultServer(
        rate=5000.0, timings=True, spec=SpecProfile((0.9, 0.5)), metrics=flavour
    ) as server:
        before = parse_spec_counters(fetch_metrics(server.url), names)
        drafted, accepted = zip(*(server.count_spec(40) for _ in range(3)), strict=True)
        after = parse_spec_counters(fetch_metrics(server.url), names)
    spec = spec_delta(before, after, k=2)
    assert (spec.drafted, spec.accepted) == (sum(drafted), sum(accepted))
    assert spec.acceptance_rate == pytest.approx(sum(accepted) / sum(drafted))


def test_fetch_metrics_is_none_without_a_metrics_page():
    with FaultServer(metrics=None) as server:
        assert fetch_metrics(server.url) is None


def test_timings_totals():
    runs = [
        RunRecord(index=1, ok=True, drafted=10, accepted=8),
        RunRecord(index=2, ok=True),
        RunRecord(index=3, ok=True, drafted=5, accepted=5),
    ]
    assert timings_totals(runs) == (15, 13)
    assert timings_totals(runs[1:2]) is None
