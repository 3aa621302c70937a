"""A bench left `running` by a killed process is marked `interrupted` on the next open
(issue 17, item 8); a live writer's bench, or one from another host, is left alone."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from sqlalchemy import text

from servelab.store import Store
from servelab.store.owners import owner_token
from tests.store_samples import fresh_pg_database, full_bench, full_run


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        yield str(tmp_path / "results.db")
    else:
        with fresh_pg_database() as url:
            yield url


def _running_bench(store: Store) -> str:
    bench = full_bench()
    bench.runs = []
    bench.status = "running"
    bench.finished_at = None
    bench.summary = bench.spec = bench.regimes = None
    bench.concurrency = []
    bench_id = store.begin_bench(bench)
    store.add_run(bench_id, full_run(1, 250.0))
    store.add_run(bench_id, full_run(2, 251.0))
    return bench_id


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _set_owner(store: Store, bench_id: str, owner: str) -> None:
    with store._engine.begin() as conn:
        conn.execute(
            text("UPDATE benches SET owner = :owner WHERE id = :id"),
            {"owner": owner, "id": bench_id},
        )


def test_a_bench_whose_writer_died_is_interrupted_on_next_open(store_url):
    with Store(store_url) as store:
        bench_id = _running_bench(store)
        _set_owner(store, bench_id, f"{socket.gethostname()}|{_dead_pid()}|1")
    with Store(store_url) as store:
        bench = store.bench(bench_id)
    assert bench.status == "interrupted"
    assert [run.index for run in bench.runs] == [1, 2]  # finished runs kept
    assert bench.finished_at is not None


def test_a_live_writer_and_another_host_are_left_alone(store_url):
    with Store(store_url) as store:
        mine = _running_bench(store)
        theirs = _running_bench(store)
        _set_owner(store, theirs, f"another-host.example|{_dead_pid()}|1")
        assert store.bench(mine).status == "running"
    with Store(store_url) as store:  # this process still runs: its bench is not abandoned
        assert store.bench(mine).status == "running"
        assert store.bench(theirs).status == "running"


def test_the_owner_is_this_process():
    host, pid, started = owner_token().split("|")
    assert host == socket.gethostname() and pid.isdigit() and started
