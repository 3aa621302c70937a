"""Tune logic without engines: sweep parsing, the plan and its order, the analysis, the store."""

from __future__ import annotations

import random

import pytest
from rich.console import Console
from sqlalchemy import text

from servelab.errors import BadInput
from servelab.recipe import load_recipe
from servelab.records import BenchResult, Provenance, RunRecord, SpecStats
from servelab.render.tune import render_tune
from servelab.report.ratio import fieller
from servelab.store import Store, migrate
from servelab.store.url import make_engine, resolve_url
from servelab.tune import analyse, build_plan, open_tune, parse_sweep
from servelab.tune.sweep import TuneSettings

SETTINGS = TuneSettings(runs=4, tokens=100, workload="story")
SWEEP = "speculative.num_speculative_tokens"


# --- sweep ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "values"),
    [
        (f"{SWEEP}=1,2,4,8", [1, 2, 4, 8]),
        ("limits.gpu_memory_utilization=0.8, 0.9", [0.8, 0.9]),
        ("context.kv_cache_dtype=fp8,auto", ["fp8", "auto"]),
        ("context.prefix_caching=true,false", [True, False]),
    ],
)
def test_sweep_values_are_yaml_scalars(text, values):
    sweep = parse_sweep(text)
    assert sweep.key == text.split("=")[0] and sweep.values == values
    assert [type(v) for v in sweep.values] == [type(v) for v in values]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("speculative.method", "expected KEY=V1,V2"),
        ("=1,2", "expected KEY=V1,V2"),
        (f"{SWEEP}=", "expected KEY=V1,V2"),
        ("speculative..k=1", "not a dotted recipe path"),
        (f"{SWEEP}=1,2,1", "a value is repeated"),
        (f"{SWEEP}=[1", "not a YAML scalar"),
        (f"{SWEEP}={{a: 1}}", "not a scalar"),
    ],
)
def test_bad_sweeps_are_one_line_errors(text, message):
    with pytest.raises(BadInput, match=message):
        parse_sweep(text)


# --- plan -----------------------------------------------------------------------------------


def test_the_plan_brackets_seeded_shuffled_variants_with_the_baseline():
    recipe = load_recipe("local-stories260k-draft")
    plan = build_plan(recipe, parse_sweep(f"{SWEEP}=1,2,4,8"), SETTINGS, seed=11)
    names = [slot.name for slot in plan.slots]
    expected = [f"variant-{i}" for i in range(1, 5)]
    random.Random(11).shuffle(expected)
    assert names == ["baseline-start", *expected, "baseline-end"]
    assert build_plan(recipe, parse_sweep(f"{SWEEP}=1,2,4,8"), SETTINGS, seed=11) == plan
    for slot in plan.slots:
        if slot.role == "variant":
            assert slot.recipe["speculative"]["num_speculative_tokens"] == slot.value
            assert slot.stack == f"local-stories260k-draft@num_speculative_tokens={slot.value}"
        else:
            assert slot.recipe["speculative"] is None
            assert slot.stack == "local-stories260k-draft-nospec"
    assert plan.recipe_hash == recipe.hash
    assert plan.baseline_hash == recipe.without_speculation().hash


def test_a_given_baseline_replaces_the_no_speculation_twin():
    recipe = load_recipe("local-stories260k-draft")
    baseline = load_recipe("local-stories260k")
    plan = build_plan(recipe, parse_sweep(f"{SWEEP}=2"), SETTINGS, baseline=baseline, seed=1)
    assert plan.baseline_name == "local-stories260k" and plan.baseline_hash == baseline.hash


def test_an_invalid_variant_is_refused_naming_the_key():
    recipe = load_recipe("local-stories260k-draft")
    with pytest.raises(BadInput, match=r"num_speculative_tokens=0: speculative\."):
        build_plan(recipe, parse_sweep(f"{SWEEP}=2,0"), SETTINGS, seed=1)
    with pytest.raises(BadInput, match="unknown key"):
        build_plan(recipe, parse_sweep("speculative.nonsense=1"), SETTINGS, seed=1)


def test_the_fingerprint_ignores_order_and_timeout_but_not_what_is_measured():
    recipe = load_recipe("local-stories260k-draft")
    sweep = parse_sweep(f"{SWEEP}=1,2")
    first = build_plan(recipe, sweep, SETTINGS, seed=1)
    assert build_plan(recipe, sweep, SETTINGS, seed=2).fingerprint == first.fingerprint
    slower = SETTINGS.model_copy(update={"timeout_s": 5.0})
    assert build_plan(recipe, sweep, slower, seed=1).fingerprint == first.fingerprint
    longer = SETTINGS.model_copy(update={"tokens": 200})
    assert build_plan(recipe, sweep, longer, seed=1).fingerprint != first.fingerprint
    other = parse_sweep(f"{SWEEP}=1,3")
    assert build_plan(recipe, other, SETTINGS, seed=1).fingerprint != first.fingerprint


# --- analysis -------------------------------------------------------------------------------


def bench(
    values: list[float],
    *,
    failed_runs: int = 0,
    alpha: float | None = None,
    status: str = "complete",
    bench_id: str = "b",
) -> BenchResult:
    """A stored-looking bench: a cold run, then ``values``, then failed runs."""
    provenance = Provenance(
        stack="s",
        stack_version="1",
        endpoint="",
        model="m",
        host="h",
        servelab_version="0",
        workload_id="story-v1",
        workload_hash="x",
        tokens=100,
    )
    runs = [RunRecord(index=1, cold=True, ok=True, decode_tps=1.0)]
    runs += [RunRecord(index=i, ok=True, decode_tps=v) for i, v in enumerate(values, start=2)]
    runs += [RunRecord(index=len(runs) + 1 + i, ok=False, error="boom") for i in range(failed_runs)]
    spec = SpecStats(acceptance_rate=alpha, mean_acceptance_length=2.5) if alpha else None
    return BenchResult(
        id=bench_id, provenance=provenance, started_at=0.0, status=status, runs=runs, spec=spec
    )


def plan_for(values: str = "1,2,3"):
    recipe = load_recipe("local-stories260k-draft")
    return build_plan(recipe, parse_sweep(f"{SWEEP}={values}"), SETTINGS, seed=4)


def test_speedup_is_fieller_on_the_pooled_baseline_and_variants_keep_sweep_order():
    plan = plan_for()
    start, end = [100.0, 102.0, 98.0], [101.0, 99.0, 100.0]
    benches = {
        "baseline-start": bench(start, bench_id="s"),
        "baseline-end": bench(end, bench_id="e"),
        "variant-1": bench([150.0, 153.0, 147.0], alpha=0.8, bench_id="v1"),
        "variant-2": bench([210.0, 190.0, 200.0], alpha=0.7, bench_id="v2"),
        "variant-3": bench([120.0, 121.0, 119.0], failed_runs=1, bench_id="v3"),
    }
    report = analyse(plan, benches, {})
    assert [v.value for v in report.variants] == [1, 2, 3]
    assert report.baseline.n == 6 and report.baseline.mean == pytest.approx(100.0)
    for variant, values in zip(report.variants, ([150, 153, 147], [210, 190, 200]), strict=False):
        expected = fieller(start + end, [float(v) for v in values])
        assert variant.speedup == pytest.approx(expected.ratio)
        assert variant.speedup_ci95 == pytest.approx([expected.low, expected.high])
    assert report.variants[0].acceptance_rate == 0.8
    assert report.variants[2].all_ok is False and report.variants[2].runs_ok == 4
    # Best: the highest mean among variants whose runs all succeeded.
    assert report.best.value == 2 and "runs all succeeded" in report.best.rule
    # The tighter interval wins when the objective is the lower bound.
    cautious = analyse(plan, benches, {}, objective="speedup_ci_low")
    low_1 = report.variants[0].speedup_ci95[0]
    low_2 = report.variants[1].speedup_ci95[0]
    assert cautious.best.value == (1 if low_1 > low_2 else 2)
    drift = report.baseline.drift
    assert drift.ratio == pytest.approx(1.0) and drift.large is False
    positions = {v.slot: v.position for v in report.variants}
    assert sorted(positions.values()) == [2, 3, 4]


def test_drift_as_large_as_an_effect_is_flagged():
    plan = plan_for("1")
    benches = {
        "baseline-start": bench([100.0, 101.0, 99.0]),
        "baseline-end": bench([110.0, 111.0, 109.0]),
        "variant-1": bench([112.0, 113.0, 111.0]),
    }
    drift = analyse(plan, benches, {}).baseline.drift
    assert drift.pct == pytest.approx(10.0) and drift.large is True
    assert "treat small speedups as noise" in drift.note


def test_missing_and_failed_slots_are_reported_without_a_best():
    plan = plan_for("1")
    report = analyse(
        plan, {"baseline-start": bench([100.0, 101.0])}, {"variant-1": "engine failed"}
    )
    [variant] = report.variants
    assert variant.status == "failed" and variant.error == "engine failed"
    assert variant.speedup is None and report.best is None
    assert report.baseline.drift.ratio is None
    assert [b.status for b in report.baseline.benches] == ["complete", "missing"]


def test_an_unbounded_interval_is_shown_as_such_with_its_reason():
    """Two warm runs a bench and a bimodal baseline: t at 1 df leaves the ratio unbounded."""
    plan = plan_for("1")
    benches = {
        "baseline-start": bench([980.0, 720.0]),
        "baseline-end": bench([990.0, 730.0]),
        "variant-1": bench([400.0, 300.0], alpha=1.0),
    }
    report = analyse(plan, benches, {})
    [variant] = report.variants
    assert variant.speedup == pytest.approx(350.0 / 855.0)
    assert variant.speedup_ci95 is None
    console = Console(record=True, width=200)
    render_tune(report, console)
    text = console.export_text()
    assert "is unbounded" in text and "more runs a bench bound it" in text


# --- store ----------------------------------------------------------------------------------


def test_tunes_and_attempts_round_trip_with_the_benches_status(tmp_path):
    plan = plan_for("1,2")
    with Store(str(tmp_path / "t.db")) as store:
        tune_id, stored = open_tune(store, plan, None)
        assert stored == plan
        begun = bench([1.0], status="running", bench_id="bench-a")
        store.begin_bench(begun)
        first = store.add_tune_attempt(tune_id, "baseline-start", "bench-a", "host-1")
        store.add_tune_attempt(tune_id, "variant-1", None)
        store.fail_tune_attempt(first, "interrupted")
        store.finish_bench("bench-a", status="complete")
        attempts = store.tune_attempts(tune_id)
        assert [(a.slot, a.bench_status, a.error) for a in attempts] == [
            ("baseline-start", "complete", "interrupted"),
            ("variant-1", None, None),
        ]
        store.finish_tune(tune_id, "interrupted")
        record = store.tune(tune_id)
        assert record.status == "interrupted" and record.finished_at is not None
        assert record.fingerprint == plan.fingerprint
        assert [t.id for t in store.tunes(plan.fingerprint)] == [tune_id]
        assert store.tunes("other") == []
        with pytest.raises(BadInput, match="no tune"):
            store.tune("nope")
        # Resuming finds it by fingerprint; another sweep is refused, naming the difference.
        assert open_tune(store, plan, "last")[0] == tune_id
        with pytest.raises(BadInput, match=r"sweep values 1,2 ≠ 1,3"):
            open_tune(store, plan_for("1,3"), tune_id)


def test_a_v2_database_gains_the_tune_tables(tmp_path):
    url = resolve_url(str(tmp_path / "old.db"))
    engine = make_engine(url)
    with engine.begin() as conn:
        assert migrate(conn, target=2) == 2
    engine.dispose()
    with Store(url) as store:
        assert store.schema_version == 6  # every step up to the newest
        tune_id, _ = open_tune(store, plan_for("1"), None)
        assert store.tune(tune_id).status == "running"
    engine = make_engine(url)
    with engine.begin() as conn:
        tables = {row[0] for row in conn.execute(text("SELECT name FROM sqlite_master"))}
    engine.dispose()
    assert {"tunes", "tune_attempts"} <= tables


# --- command line ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sweep", "nokey"], "--sweep 'nokey': expected KEY=V1,V2"),
        (["--sweep", f"{SWEEP}=1", "--objective", "fastest"], "--objective 'fastest'"),
        (["--sweep", f"{SWEEP}=1", "--executor", "slurm"], "--executor 'slurm'"),
        (["--sweep", f"{SWEEP}=1", "--ray-address", "h:1"], "--ray-address needs --executor ray"),
        (["--sweep", f"{SWEEP}=1", "--workload", "nope"], "nope"),
        (["--sweep", f"{SWEEP}=1", "--resume", "last"], "no unfinished tune"),
    ],
)
def test_bad_tune_input_is_one_line_and_exit_2(run_cli, tmp_path, args, message):
    done = run_cli("tune", "local-stories260k-draft", *args, "--db", str(tmp_path / "t.db"))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_the_typed_report_keeps_the_json_shape():
    plan = plan_for("1")
    benches = {
        "baseline-start": bench([100.0, 101.0, 99.0]),
        "baseline-end": bench([100.0, 100.5, 99.5]),
        "variant-1": bench([150.0, 153.0, 147.0], alpha=0.8),
    }
    data = analyse(plan, benches, {}, tune_id="t1").model_dump()
    assert list(data) == [
        "tune_id", "recipe", "recipe_hash", "key", "values", "seed", "order", "settings",
        "baseline", "variants", "best", "method", "notes",
    ]  # fmt: skip
    assert list(data["baseline"]) == [
        "n", "mean", "median", "min", "max", "range", "stdev", "ci95", "cv",
        "name", "recipe_hash", "benches", "drift",
    ]  # fmt: skip
    assert list(data["baseline"]["drift"]) == ["ratio", "ci95", "pct", "large", "note", "rule"]
    assert list(data["baseline"]["benches"][0]) == [
        "slot", "position", "bench_id", "status", "error", "summary",
    ]  # fmt: skip
    assert list(data["variants"][0]) == [
        "value", "label", "slot", "position", "bench_id", "status", "error", "runs", "runs_ok",
        "all_ok", "summary", "speedup", "speedup_ci95", "acceptance_rate",
        "mean_acceptance_length", "estimated_tokens_per_step", "regimes",
    ]  # fmt: skip
    assert list(data["best"]) == [
        "value", "label", "slot", "decode_tps", "speedup", "speedup_ci95", "objective", "rule",
        "note",
    ]  # fmt: skip
    assert list(data["settings"]) == ["runs", "tokens", "workload", "timeout_s"]
    assert data["variants"][0]["summary"]["n"] == 3 and data["best"]["value"] == 1
