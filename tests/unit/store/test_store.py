"""The results store: URLs, round trips on SQLite and PostgreSQL, migrations, concurrency."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from servelab.errors import BadInput, RunFailed
from servelab.records import BenchResult, CheckResult, CheckSet, ImportedFrom, RunRecord
from servelab.store import SCHEMA_VERSION, Store, load_reported, migrate, resolve_url
from servelab.store.url import make_engine
from tests.store_samples import fresh_pg_database, full_bench, full_run, passed, sample_load

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    """The same test on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "results.db")
    else:
        with fresh_pg_database() as url:
            yield url


def _assert_every_field_set(*models) -> None:
    """Guard for the round trip: every field is off its default in at least one sample."""
    kind = type(models[0])
    for name, field in kind.model_fields.items():
        if name in {"id", "reported"}:
            continue
        default = field.get_default(call_default_factory=True)
        assert any(getattr(model, name) != default for model in models), (
            f"{kind.__name__}.{name} is left at its default in the sample"
        )


# --- URLs ----------------------------------------------------------------------------------


def test_default_url_is_a_sqlite_file_in_the_data_dir(servelab_home):
    assert resolve_url(None) == f"sqlite:///{servelab_home / 'data' / 'results.db'}"


def test_urls_are_normalised(tmp_path, monkeypatch):
    assert resolve_url("postgresql://u@h:5/db") == "postgresql+psycopg://u@h:5/db"
    assert resolve_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert resolve_url("sqlite:///x.db") == "sqlite:///x.db"
    assert resolve_url(str(tmp_path / "r.db")) == f"sqlite:///{tmp_path / 'r.db'}"
    monkeypatch.setenv("SERVELAB_DB", str(tmp_path / "env.db"))
    assert resolve_url(None) == f"sqlite:///{tmp_path / 'env.db'}"


def test_bad_database_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        resolve_url(str(tmp_path / "missing-folder" / "r.db"))
    with pytest.raises(BadInput, match=r"cannot open database postgresql\+psycopg://postgres@"):
        Store("postgresql://postgres@127.0.0.1:1/nothing")


def test_sqlite_runs_in_wal_mode(tmp_path):
    store = Store(str(tmp_path / "r.db"))
    with store._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 30000
    store.close()


# --- round trips ---------------------------------------------------------------------------


def test_a_bench_round_trips_every_field(store_url):
    original = full_bench(cold=212.41).model_copy(update={"load": sample_load()})
    original.provenance.imported = ImportedFrom(  # what `servelab import` adds
        tool="vllm bench serve",
        tool_version="0.20.2",
        file="result.json",
        sha256="ab" * 32,
        figure="1000 / mean_tpot_ms",
        formula="TPOT = (e2el − ttft) / (output_len − 1)",
        comparable=True,
        note="harmonic mean",
    )
    for records in (
        [original],
        [original.provenance],
        [original.summary],
        [original.spec],
        original.runs,
        [original.regimes],
        original.concurrency,
        [original.load],
        original.load.levels,
    ):
        _assert_every_field_set(*records)

    store = Store(store_url)
    started = original.model_copy(
        update={
            "status": "running",
            "runs": [],
            "summary": None,
            "spec": None,
            "regimes": None,
            "concurrency": [],
            "load": None,
            "finished_at": None,
        }
    )
    bench_id = store.begin_bench(started)
    store.save_load(bench_id, original.load)
    for run in original.runs:
        store.add_run(bench_id, run)
    store.finish_bench(
        bench_id,
        summary=original.summary,
        spec=original.spec,
        regimes=original.regimes,
        concurrency=original.concurrency,
        status="complete",
        finished_at=original.finished_at,
        reason=original.reason,
    )
    store.close()

    again = Store(store_url)  # a fresh connection: nothing comes from memory
    [rebuilt] = again.benches()
    assert rebuilt == original.model_copy(update={"id": bench_id})
    assert again.bench(bench_id) == rebuilt
    assert again.benches("gemma4-26b-a4b-vision-mtp", "1.0.5") == [rebuilt]
    assert again.benches("gemma4-26b-a4b-vision-mtp", "9.9.9") == []
    again.close()


def test_whole_bench_in_one_call_keeps_runs_in_order(store_url):
    bench = full_bench(values=[3.0, 1.0, 2.0], started_at=5.0)
    with Store(store_url) as store:
        bench_id = store.save_bench(bench)
        [rebuilt] = store.benches(status="complete", reported=False)
    assert rebuilt.id == bench_id
    assert [run.decode_tps for run in rebuilt.runs] == [3.0, 1.0, 2.0, 1.5]  # + concurrency 4


def test_an_interrupted_bench_keeps_the_runs_it_finished(store_url):
    bench = full_bench().model_copy(update={"runs": [], "status": "running", "summary": None})
    with Store(store_url) as store:
        bench_id = store.begin_bench(bench)
        for index in (1, 2, 3):
            store.add_run(bench_id, full_run(index, 100.0 + index))
        # the process dies here: finish_bench never runs
    with Store(store_url) as store:
        [kept] = store.benches()
    assert kept.status == "running"
    assert [run.decode_tps for run in kept.runs] == [101.0, 102.0, 103.0]


def test_a_run_for_an_unknown_bench_is_refused_and_not_written(store_url):
    with Store(store_url) as store:
        with pytest.raises(BadInput, match="no bench 'nope'"):
            store.add_run("nope", full_run(1, 1.0))
        with pytest.raises(BadInput, match="no bench 'nope'"):
            store.finish_bench("nope")
        assert store.benches() == []


def test_checks_keep_provenance_and_the_latest_outcome_per_name(store_url):
    with Store(store_url) as store:
        first = store.save_checks(
            CheckSet(
                stack="s",
                stack_version="1",
                recipe_hash="abc",
                recipe={"name": "s"},
                endpoint="http://127.0.0.1:1",
                engine="llamacpp",
                engine_version="b1",
                gpu=[],
                checks=[passed("vision", False), passed("tools")],
                created_at=10.0,
            )
        )
        second = store.save_checks(
            CheckSet(
                stack="s",
                stack_version="1",
                recipe_hash="abc",
                recipe={"name": "s"},
                endpoint="http://127.0.0.1:1",
                engine="llamacpp",
                engine_version="b1",
                gpu=[],
                checks=[passed("vision")],
                created_at=20.0,
            )
        )
        store.save_checks(CheckSet(stack="s", stack_version="2", checks=[passed("tools", False)]))
        latest = store.check_records("s", "1")
        results = store.checks("s", "1")
    assert [(c.result.name, c.result.passed, c.set_id) for c in latest] == [
        ("tools", True, first),
        ("vision", True, second),
    ]
    assert results == [passed("tools"), passed("vision")]
    assert all(isinstance(c, CheckResult) for c in results)
    assert latest[0].id != latest[1].id


# --- reported results ----------------------------------------------------------------------


def test_the_posts_leaderboard_imports_as_reported(store_url):
    entries = load_reported("post-leaderboard")
    with Store(store_url) as store:
        ids = store.import_reported(entries)
        benches = store.benches(reported=True)
        gemma_checks = store.check_records("gemma4-26b-a4b-vision-mtp", "1.0.5", reported=True)
        assert store.checks("gemma4-26b-a4b-vision-mtp", "1.0.5") == []  # measured: none
    assert len(ids) == 6 and len(benches) == 6
    assert all(b.reported and b.status == "complete" and not b.runs for b in benches)
    by_stack = {b.provenance.stack: b for b in benches}
    gemma = by_stack["gemma4-26b-a4b-vision-mtp"]
    assert gemma.summary.mean == 250.54 and gemma.summary.n == 10
    assert gemma.spec.acceptance_rate == 0.8641
    assert gemma.provenance.context == 131072
    assert gemma.source == "seed blog post, leaderboard"
    assert {c.result.name: c.result.passed for c in gemma_checks} == {"vision": True, "tools": True}


def test_a_bad_results_file_names_the_entry_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("- {stack: a, version: 1, decode_tps: 10, source: x}\n- {stack: b}\n")
    with pytest.raises(BadInput, match=r"bad.yaml: entry 2: version: field required"):
        load_reported(path)
    path.write_text("- {stack: a, version: 1, decode_tps: 10, source: x, colour: red}\n")
    with pytest.raises(BadInput, match="entry 1: colour: extra inputs"):
        load_reported(path)
    path.write_text("stack: [unclosed\n")
    with pytest.raises(BadInput, match="not valid yaml"):
        load_reported(path)
    with pytest.raises(BadInput, match="no such file.*post-leaderboard"):
        load_reported(tmp_path / "absent.yaml")


# --- schema versions -----------------------------------------------------------------------


def test_a_v1_database_is_upgraded_and_keeps_its_rows(store_url):
    engine = make_engine(resolve_url(store_url))
    with engine.begin() as conn:
        assert migrate(conn, target=1) == 1
        conn.execute(
            text(
                "INSERT INTO benches (id, stack, stack_version, status, reported, started_at,"
                " host, provenance) VALUES ('old1', 's', '1', 'complete', false, 1.5, 'h', :p)"
            ),
            {"p": full_bench().provenance.model_dump_json(exclude={"context"})},
        )
        conn.execute(
            text(
                "INSERT INTO runs (bench_id, idx, cold, ok, concurrency, decode_tps, record)"
                " VALUES ('old1', 1, false, true, 1, 9.5, :r)"
            ),
            {"r": RunRecord(index=1, ok=True, decode_tps=9.5).model_dump_json()},
        )
    engine.dispose()

    with Store(store_url) as store:
        assert store.schema_version == SCHEMA_VERSION == 6
        [old] = store.benches()
        assert old.id == "old1" and old.source is None and old.runs[0].decode_tps == 9.5
        assert old.load is None  # v4: no load section before it
        assert old.runs[0].valid is None and old.reason is None  # v6: not assessed, counted
        assert old.runs[0].counted()
        store.import_reported(load_reported("post-leaderboard"))  # v2 columns work
        assert len(store.benches(reported=True)) == 6
    with Store(store_url) as store:  # reopening applies nothing twice
        assert store.schema_version == 6


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "future.db"
    Store(str(path)).close()
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE schema_version SET version = 99"))
    engine.dispose()
    with pytest.raises(RunFailed, match="schema v99 is newer"):
        Store(str(path))


# --- concurrency ---------------------------------------------------------------------------

WRITER = """
import sys, time
from servelab.store import Store
from tests.store_samples import full_bench, full_run
db, stack, start_at, count = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
while time.time() < start_at:
    time.sleep(0.001)
store = Store(db)
bench = full_bench(stack=stack).model_copy(update={"runs": [], "status": "running"})
bench_id = store.begin_bench(bench)
for index in range(1, count + 1):
    store.add_run(bench_id, full_run(index, 100.0 + index))
store.finish_bench(bench_id, status="complete")
print(bench_id)
"""


def test_two_processes_writing_one_sqlite_file_keep_every_run(tmp_path):
    db = str(tmp_path / "shared.db")  # not created yet: both processes also create the schema
    start_at = time.time() + 2.0
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, db, stack, str(start_at), "60"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for stack in ("writer-a", "writer-b")
    ]
    outputs = [writer.communicate(timeout=240) for writer in writers]
    for writer, (_, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
    with Store(db) as store:
        benches = store.benches()
    assert sorted(b.provenance.stack for b in benches) == ["writer-a", "writer-b"]
    for bench in benches:
        assert bench.status == "complete"
        assert [run.index for run in bench.runs] == list(range(1, 61))
    assert {b.id for b in benches} == {out.strip() for out, _ in outputs}


def test_benches_rebuild_as_bench_results(tmp_path):
    with Store(str(tmp_path / "r.db")) as store:
        store.save_bench(full_bench())
        assert all(isinstance(b, BenchResult) for b in store.benches(with_runs=False))
        assert store.benches(with_runs=False)[0].runs == []
