"""Acceptance: `servelab tune` of the local draft recipe on the real llama-server (CPU)."""

from __future__ import annotations

import json

import pytest

from servelab.store import Store


@pytest.mark.llama
@pytest.mark.engine
def test_tune_of_the_draft_recipe_reports_speedups_with_intervals_and_a_best_value(
    run_cli, tmp_path
):
    db, out = tmp_path / "tune.db", tmp_path / "tune.json"
    done = run_cli(
        "tune",
        "local-stories260k-draft",
        "--sweep",
        "speculative.num_speculative_tokens=1,2,4,8",
        "--runs",
        "5",
        "--tokens",
        "200",
        "--db",
        str(db),
        "--json",
        str(out),
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["baseline"]["name"] == "local-stories260k-draft-nospec"
    # 4 warm runs a bench: with 2, a variant's interval rests on t(1 df) = 12.7 and is unbounded
    # whenever the pooled baseline's CV exceeds ~0.16, which the bimodal CPU decode can reach.
    assert report["baseline"]["n"] == 8  # 4 warm runs × (start + end)
    assert report["baseline"]["drift"]["ratio"] > 0
    assert [v["value"] for v in report["variants"]] == [1, 2, 4, 8]
    for variant in report["variants"]:
        assert variant["all_ok"] and variant["summary"]["n"] == 4
        assert variant["speedup"] == pytest.approx(
            variant["summary"]["mean"] / report["baseline"]["mean"]
        )
        assert variant["speedup_ci95"] is not None, variant
        low, high = variant["speedup_ci95"]
        assert low < variant["speedup"] < high
        # The draft is the target itself: (nearly) every draft is accepted, k + 1 per step.
        assert variant["acceptance_rate"] == pytest.approx(1.0, abs=0.05)
        assert variant["mean_acceptance_length"] == pytest.approx(variant["value"] + 1, rel=0.1)
    means = {v["value"]: v["summary"]["mean"] for v in report["variants"]}
    assert report["best"]["value"] == max(means, key=means.get)
    text = " ".join(done.stdout.split())
    assert f"best: num_speculative_tokens={report['best']['value']}" in text
    assert "95 % CI" in text and "Fieller" in text and "drift" in text
    with Store(str(db)) as store:
        assert store.tune(report["tune_id"]).status == "complete"
        assert len(store.benches(status="complete")) == 6
