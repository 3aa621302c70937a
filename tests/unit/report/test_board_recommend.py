"""recommend: the fastest measured stack meeting the needs (by passed checks), with evidence."""

from __future__ import annotations

import json

import pytest

from servelab.errors import RunFailed
from servelab.records import CheckSet, Cluster, Regimes
from servelab.report.recommend import evidence_text, recommend
from servelab.store import Store, load_reported
from tests.store_samples import BASELINE_SERIES, POST_TABLE_1, full_bench, passed


def _bench(stack, values, *, context=131072, gpu="NVIDIA H100 80GB HBM3", regimes=None):
    bench = full_bench(stack, "1.0.0", values, context=context, gpu=gpu)
    return bench.model_copy(update={"regimes": regimes or Regimes(bimodal=False)})


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "r.db")
    with Store(path) as store:
        store.import_reported(load_reported("post-leaderboard"))  # reported: never picked
        store.save_bench(_bench("text-fast", POST_TABLE_1, context=262144))
        store.save_bench(_bench("vision-slow", BASELINE_SERIES))
        store.save_checks(
            CheckSet(
                stack="text-fast",
                stack_version="1.0.0",
                checks=[passed("vision", False), passed("tools")],
            )
        )
        store.save_checks(
            CheckSet(
                stack="vision-slow",
                stack_version="1.0.0",
                checks=[passed("vision"), passed("tools")],
            )
        )
    return path


def test_needs_are_met_only_by_passed_checks(db):
    with Store(db) as store:
        assert recommend(store).best.stack == "text-fast"
        pick = recommend(store, ["vision", "tools"])
        records = {c.result.name: c.id for c in store.check_records("vision-slow", "1.0.0")}
        [failed_vision] = [
            c.id for c in store.check_records("text-fast", "1.0.0") if c.result.name == "vision"
        ]
    assert pick.best.stack == "vision-slow"
    assert pick.best.checks == {"vision": records["vision"], "tools": records["tools"]}
    assert pick.rejected == {"text-fast@1.0.0": f"vision: check {failed_vision} failed"}
    assert "gemma4-26b-a4b-vision-mtp@1.0.5" not in pick.rejected  # reported: not a candidate
    text = evidence_text(pick.best)
    assert f"135.97 ± 1.69 t/s decode (n=10, bench {pick.best.bench_id})" in text
    assert f"vision ✓ (check {records['vision']})" in text


def test_context_and_gpu_filter(db):
    with Store(db) as store:
        assert recommend(store, ["tools"], context=200_000).best.stack == "text-fast"
        with pytest.raises(RunFailed, match=r"vision-slow@1.0.0: context 128K < 200000"):
            recommend(store, ["vision"], context=200_000)
        store.save_bench(_bench("on-cpu", [5000.0, 5001.0, 5002.0], gpu=None))  # no GPU: CPU
        assert recommend(store).best.stack == "on-cpu"
        assert recommend(store, gpu="h100").best.stack == "text-fast"
        assert recommend(store, gpu="cpu").best.stack == "on-cpu"


def test_a_bimodal_stack_is_ranked_by_its_slow_cluster(tmp_path):
    cycle = Regimes(
        bimodal=True,
        clusters=[Cluster(mean=300.0, runs=[1, 2, 3, 4, 5]), Cluster(mean=60.0, runs=[6, 7, 8, 9])],
        pattern="FFFFFSSSS",
    )
    with Store(str(tmp_path / "r.db")) as store:
        store.save_bench(_bench("cycling", [300.0] * 5 + [60.0] * 4, regimes=cycle))
        store.save_bench(_bench("steady", BASELINE_SERIES))
        pick = recommend(store)
    assert pick.best.stack == "steady" and pick.others[0].ranked_by_tps == 60.0


def test_nothing_qualifies_is_a_clear_message(run_cli, tmp_path, db):
    empty = str(tmp_path / "empty.db")
    done = run_cli("recommend", "--db", empty)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "servelab: no measured benches stored yet (run `servelab bench` first)"
    )
    done = run_cli("recommend", "--needs", "vision,agent", "--db", db)
    assert done.returncode == 1
    assert done.stderr.startswith("servelab: no measured stack meets (vision, agent): ")
    assert "vision-slow@1.0.0: agent: never checked" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_recommend_on_the_command_line(run_cli, db):
    done = run_cli("recommend", "--needs", "vision,tools", "--db", db)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("vision-slow@1.0.0")
    assert "evidence: 135.97 ± 1.69 t/s decode (n=10" in done.stdout
    data = json.loads(run_cli("recommend", "--json", "-", "--db", db).stdout)
    assert data["best"]["stack"] == "text-fast" and data["best"]["n"] == 10
    assert data["others"][0]["stack"] == "vision-slow"
