"""compare: the post's version table, and the % change's 95 % CI (Fieller) against hand values."""

from __future__ import annotations

import json
import statistics

import pytest

from servelab.errors import BadInput
from servelab.records import CheckSet, Regimes
from servelab.report.compare import compare, compare_markdown, parse_side
from servelab.report.ratio import fieller, fieller_from_stats
from servelab.store import Store, load_reported
from tests.store_samples import (
    BASELINE_SERIES,
    POST_TABLE_1,
    POST_TABLE_2,
    POST_TABLE_2_COLD,
    full_bench,
    passed,
)

# Hand-computed (a brute-force scan of θ over (b̄ − θā)² ≤ t²(v_b + θ²vₐ), t from a printed
# Student-t table at the floor of the Welch df):
#   baseline mean 135.97; table 1: mean 250.548, θ̂ = 1.842671, df 15.29 → t(15) = 2.131450,
#     change +84.267 %, 95 % CI +83.276 … +85.261 %
#   table 2 (cold run excluded): mean 250.8033, df 10.40 → t(10) = 2.228139,
#     change +84.455 %, 95 % CI +82.918 … +85.995 %


def test_fieller_on_the_posts_first_table():
    interval = fieller(BASELINE_SERIES, POST_TABLE_1)
    assert interval.change_pct == pytest.approx(84.2671, abs=1e-4)
    assert interval.df == pytest.approx(15.2948, abs=1e-4)
    assert interval.t == pytest.approx(2.131450, abs=1e-6)
    low, high = interval.change_ci_pct
    assert low == pytest.approx(83.2761, abs=1e-4)
    assert high == pytest.approx(85.2612, abs=1e-4)


def test_fieller_on_the_posts_second_table_without_its_cold_run():
    interval = fieller(BASELINE_SERIES, POST_TABLE_2)
    assert interval.change_pct == pytest.approx(84.4549, abs=1e-4)
    low, high = interval.change_ci_pct
    assert (low, high) == (pytest.approx(82.9179, abs=1e-4), pytest.approx(85.9953, abs=1e-4))


def test_the_interval_ends_solve_fiellers_equation():
    interval = fieller(BASELINE_SERIES, POST_TABLE_1)
    mean_a, mean_b = statistics.fmean(BASELINE_SERIES), statistics.fmean(POST_TABLE_1)
    v_a = statistics.variance(BASELINE_SERIES) / len(BASELINE_SERIES)
    v_b = statistics.variance(POST_TABLE_1) / len(POST_TABLE_1)
    for theta in (interval.low, interval.high):
        lhs = (mean_b - theta * mean_a) ** 2
        rhs = interval.t**2 * (v_b + theta**2 * v_a)
        assert lhs == pytest.approx(rhs, rel=1e-9)


def test_zero_spread_gives_the_point_itself():
    flat = fieller_from_stats(100.0, 0.0, 5, 150.0, 0.0, 5)
    assert (flat.low, flat.high, flat.change_pct) == (1.5, 1.5, 50.0)


def test_no_interval_without_spread_or_with_a_baseline_indistinguishable_from_zero():
    assert fieller([100.0], [200.0]).change_ci_pct is None  # one run: no σ
    assert fieller([100.0], [200.0]).change_pct == pytest.approx(100.0)
    unbounded = fieller([5.0, -4.0, 0.5], [10.0, 11.0, 12.0])
    assert unbounded.change_ci_pct is None and unbounded.t is not None


def test_sides_parse():
    assert parse_side("gemma") == ("gemma", None)
    assert parse_side("gemma@1.0.5") == ("gemma", "1.0.5")
    for bad in ("@1.0", "gemma@", ""):
        with pytest.raises(BadInput, match="STACK or STACK@VERSION"):
            parse_side(bad)


def _store_the_posts_versions(db: str) -> None:
    """v1.0.0 no-spec (made-up series around 135.97) and v1.0.5 MTP (the post's 2nd table)."""
    with Store(db) as store:
        baseline = full_bench("gemma", "1.0.0", BASELINE_SERIES, spec=False, started_at=1.0)
        store.save_bench(baseline.model_copy(update={"regimes": Regimes(bimodal=False)}))
        candidate = full_bench("gemma", "1.0.5", POST_TABLE_2, cold=POST_TABLE_2_COLD)
        store.save_bench(candidate.model_copy(update={"started_at": 2.0}))
        for version, found in (
            ("1.0.0", [passed("vision")]),
            ("1.0.5", [passed("vision"), passed("tools")]),
        ):
            store.save_checks(CheckSet(stack="gemma", stack_version=version, checks=found))


def test_the_version_table_between_two_stored_versions(tmp_path):
    db = str(tmp_path / "r.db")
    _store_the_posts_versions(db)
    with Store(db) as store:
        result = compare(store, "gemma@1.0.0", "gemma@1.0.5")
    rows = {field: (a, b) for field, a, b in result.rows}
    assert rows["Spec decoding"] == ("none", "gemma4_mtp, n=3")
    assert rows["Drafter"] == ("n/a", "org/drafter")
    assert rows["Engine / image"][1] == "vllm 0.21.0 (vllm/vllm-openai:v0.21.0)"
    assert rows["Throughput"][0].startswith("135.97 t/s")
    assert "+84.5 %, 95 % CI +82.9 … +86.0 %" in rows["Throughput"][1]
    assert rows["Context"] == ("128K", "128K")
    assert rows["Vision"] == ("✓", "✓")
    assert rows["Tool calling"] == ("", "✓")  # never checked on 1.0.0: blank, not ✓
    assert rows["Regimes / cycle"][0] == "steady (one cluster)"
    assert rows["Regimes / cycle"][1].startswith("bimodal FFFSS")
    assert result.change_ci95_pct == [
        pytest.approx(82.9179, abs=1e-4),
        pytest.approx(85.9953, abs=1e-4),
    ]
    markdown = compare_markdown(result).splitlines()
    assert markdown[0] == "| Field | gemma@1.0.0 | gemma@1.0.5 |"
    assert markdown[1] == "|---|---|---|"


def test_compare_on_the_command_line(run_cli, tmp_path):
    db = str(tmp_path / "r.db")
    _store_the_posts_versions(db)
    done = run_cli("compare", "gemma@1.0.0", "gemma", "--markdown", "--db", db)
    assert done.returncode == 0, done.stderr
    assert "| Spec decoding | none | gemma4_mtp, n=3 |" in done.stdout
    assert "Fieller" in done.stdout
    done = run_cli("compare", "gemma@1.0.0", "gemma@1.0.5", "--json", "-", "--db", db)
    data = json.loads(done.stdout)
    assert data["change_pct"] == pytest.approx(84.4549, abs=1e-4)
    assert {row["field"] for row in data["rows"]} >= {"Throughput", "Vision", "Tool calling"}
    done = run_cli("compare", "gemma@1.0.0", "gemma@7", "--db", db)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "servelab: gemma@7: no complete bench stored for it (run `servelab bench` first)"
    )


def test_the_posts_reported_versions_compare_without_an_interval(tmp_path):
    with Store(str(tmp_path / "r.db")) as store:
        store.import_reported(load_reported("post-leaderboard"))
        result = compare(store, "gemma4-26b-a4b-nospec", "gemma4-26b-a4b-vision-mtp")
    rows = {field: (a, b) for field, a, b in result.rows}
    assert result.change_pct == pytest.approx((250.54 / 135.97 - 1) * 100)
    assert result.change_ci95_pct is None  # the baseline was published without σ and n
    assert rows["Drafter"] == ("n/a", "google/gemma-4-26B-A4B-it-assistant")  # bundled recipes
    assert rows["Bench"][0].endswith("(reported)")
