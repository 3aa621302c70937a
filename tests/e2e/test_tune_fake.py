"""`servelab tune` end to end through the real launch path, against a deterministic fake engine.

The fake streams at 100 × (1 + k/4) t/s with per-run factors 0.95, 1.05, 1.00 after the cold
run, so the speedups, their Fieller intervals and the acceptance figures are known by hand.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from servelab.store import Store
from tests.fakes.tune_engine import launches, write_recipe
from tests.support import pid_alive

# Student t, 0.975 quantile, df 1…10 (printed tables).
T975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
}


def fieller_by_hand(a: list[float], b: list[float]) -> tuple[float, float, float]:
    """mean(b)/mean(a) and its 95 % Fieller bounds, Welch df rounded down (written out)."""
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    va = sum((x - ma) ** 2 for x in a) / (len(a) - 1) / len(a)
    vb = sum((x - mb) ** 2 for x in b) / (len(b) - 1) / len(b)
    ratio = mb / ma
    spread = vb + ratio**2 * va
    df = spread**2 / (vb**2 / (len(b) - 1) + (ratio**2 * va) ** 2 / (len(a) - 1))
    t = T975[math.floor(df)]
    qa = ma**2 - t**2 * va
    half = math.sqrt(t**2 * (ma**2 * vb + mb**2 * va) - t**4 * va * vb)
    return ratio, (ma * mb - half) / qa, (ma * mb + half) / qa


def warm_values(store: Store, bench_id: str) -> list[float]:
    return [run.decode_tps for run in store.bench(bench_id).runs if not run.cold]


@pytest.mark.engine
def test_speedups_and_intervals_match_hand_computed_values(run_cli, tmp_path):
    recipe = write_recipe(tmp_path)
    db, out = tmp_path / "tune.db", tmp_path / "tune.json"
    done = run_cli(
        "tune",
        str(recipe),
        "--sweep",
        "speculative.num_speculative_tokens=2,4",
        "--seed",
        "7",
        "--db",
        str(db),
        "--json",
        str(out),
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["order"][0] == "baseline-start" and report["order"][-1] == "baseline-end"
    base = report["baseline"]
    assert base["name"] == "fake-draft-nospec" and base["n"] == 6
    assert base["mean"] == pytest.approx(100, rel=0.01)
    assert abs(base["drift"]["pct"]) < 1 and base["drift"]["large"] is False

    # By hand from the fake's design: baseline 95, 105, 100 twice (σ √20, n 6); variant rate r
    # with 0.95r, 1.05r, r (σ 0.05r, n 3); Welch df 3.68 → 3, t = 3.182. The measured values
    # carry a few ms of timer jitter, hence the tolerances.
    designed = {2: (1.5, 1.34170, 1.66846), 4: (2.0, 1.78893, 2.22462)}
    # Acceptance by hand: 100 tokens → drafts 100 // (k + 1); accepted per position
    # round(drafts × 0.9, 0.8, …): k 2 → 33 drafts, 30 + 26 of 66; k 4 → 20, 18+16+14+12 of 80.
    alpha = {2: (56 / 66, 1 + 56 / 33), 4: (60 / 80, 1 + 60 / 20)}
    by_value = {v["value"]: v for v in report["variants"]}
    assert sorted(by_value) == [2, 4]
    with Store(str(db)) as store:
        pooled = sum((warm_values(store, b["bench_id"]) for b in base["benches"]), [])
        for k, (ratio, low, high) in designed.items():
            variant = by_value[k]
            assert variant["all_ok"] and variant["summary"]["n"] == 3
            assert variant["summary"]["mean"] == pytest.approx(100 * (1 + k / 4), rel=0.01)
            assert variant["speedup"] == pytest.approx(ratio, rel=0.01)
            assert variant["speedup_ci95"] == pytest.approx([low, high], abs=0.03)
            # …and exactly the written-out formula on the stored runs (pooled baseline).
            exact = fieller_by_hand(pooled, warm_values(store, variant["bench_id"]))
            assert variant["speedup"] == pytest.approx(exact[0], rel=1e-12)
            assert variant["speedup_ci95"] == pytest.approx(list(exact[1:]), rel=1e-3)
            assert variant["acceptance_rate"] == pytest.approx(alpha[k][0], rel=1e-9)
            assert variant["mean_acceptance_length"] == pytest.approx(alpha[k][1], rel=1e-9)
        tune = store.tune(report["tune_id"])
        assert tune.status == "complete"
        linked = {a.slot: a.bench_id for a in store.tune_attempts(tune.id)}
        assert set(linked) == set(report["order"])
    assert report["best"]["value"] == 4 and report["best"]["objective"] == "decode_tps"
    assert "best: num_speculative_tokens=4" in " ".join(done.stdout.split())
    assert "Fieller" in done.stdout


def _tune_ids(db: Path) -> list[str]:
    if not db.exists():
        return []
    with Store(str(db)) as store:
        return [tune.id for tune in store.tunes()]


def _complete_slots(db: Path, tune_id: str) -> dict[str, str]:
    with Store(str(db)) as store:
        return {
            a.slot: a.bench_id for a in store.tune_attempts(tune_id) if a.bench_status == "complete"
        }


@pytest.mark.engine
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_a_killed_tune_resumes_without_redoing_finished_slots(run_cli, tmp_path, sig):
    log = tmp_path / "launches.jsonl"
    recipe = write_recipe(tmp_path, env={"FAKE_LAUNCH_LOG": str(log)})
    db, out = tmp_path / "tune.db", tmp_path / "tune.json"
    args = [
        "tune",
        str(recipe),
        "--sweep",
        "speculative.num_speculative_tokens=1,2,3,4",
        "--runs",
        "3",
        "--tokens",
        "40",
        "--seed",
        "3",
        "--db",
        str(db),
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "servelab", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    finished: dict[str, str] = {}
    while time.monotonic() < deadline and proc.poll() is None:
        ids = _tune_ids(db)
        finished = _complete_slots(db, ids[0]) if ids else {}
        if len(finished) >= 2:
            break
        time.sleep(0.1)
    assert len(finished) >= 2 and proc.poll() is None, "the tune ended before it was killed"
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    [tune_id] = _tune_ids(db)
    finished = _complete_slots(db, tune_id)  # a slot may have completed before the signal
    assert 2 <= len(finished) < 6
    started = [record["pid"] for record in launches(log)]
    deadline = time.monotonic() + 20
    while any(pid_alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(pid_alive(pid) for pid in started), "an engine outlived the killed tune"
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        assert f"--resume {tune_id}" in stderr
        with Store(str(db)) as store:
            assert store.tune(tune_id).status == "interrupted"
        resume = tune_id
    else:
        assert proc.returncode == -signal.SIGKILL
        resume = "last"
    # Re-read: an engine launched just before the signal may have logged itself after
    # `started` was read.
    launched_before = len(launches(log))

    again = run_cli(*args, "--resume", resume, "--json", str(out), timeout=240)
    assert again.returncode == 0, again.stderr
    report = json.loads(out.read_text())
    assert report["tune_id"] == tune_id and report["status"] == "complete"
    assert sorted(report["reused"]) == sorted(finished)
    assert {o["slot"] for o in report["outcomes"]} == set(report["order"]) - set(finished)
    # Finished slots kept their benches and their engines were not started again.
    benches = {v["slot"]: v["bench_id"] for v in report["variants"]}
    benches |= {b["slot"]: b["bench_id"] for b in report["baseline"]["benches"]}
    for slot, bench_id in finished.items():
        assert benches[slot] == bench_id
    plan_k = {v["slot"]: v["value"] for v in report["variants"]}
    plan_k |= {"baseline-start": 0, "baseline-end": 0}
    counts = Counter(record["k"] for record in launches(log)[launched_before:])
    rerun = set(report["order"]) - set(finished)
    assert counts == Counter(plan_k[slot] for slot in rerun)
    assert all(v["all_ok"] for v in report["variants"])


@pytest.mark.engine
def test_a_failing_variant_is_reported_and_the_rest_is_kept(run_cli, tmp_path):
    recipe = write_recipe(tmp_path, env={"FAKE_FAIL_K": "3"})
    db, out = tmp_path / "tune.db", tmp_path / "tune.json"
    done = run_cli(
        "tune",
        str(recipe),
        "--sweep",
        "speculative.num_speculative_tokens=3,4",
        "--runs",
        "3",
        "--tokens",
        "40",
        "--db",
        str(db),
        "--json",
        str(out),
        timeout=240,
    )
    assert done.returncode == 1
    assert "1 of 4 slots failed" in done.stderr and "--resume" in done.stderr
    report = json.loads(out.read_text())
    failed, kept = sorted(report["variants"], key=lambda v: v["value"])
    assert failed["status"] == "failed" and "injected start failure" in failed["error"]
    assert failed["speedup"] is None and failed["all_ok"] is False
    assert kept["all_ok"] and kept["speedup"] == pytest.approx(2.0, rel=0.03)
    assert report["best"]["value"] == 4
    with Store(str(db)) as store:
        assert store.tune(report["tune_id"]).status == "incomplete"
        assert len(store.benches(status="complete")) == 3
