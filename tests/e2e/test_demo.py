"""`servelab demo` end to end, then board/compare from SQLite and from PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.fakes.fault_server import FaultServer
from tests.support import RunCli

BOARD_KEYS = ("stack", "version", "vision", "tools", "context", "engine", "gpu")


@pytest.fixture
def demo_board(run_cli: RunCli):
    def demo_board(db: str) -> list[dict]:
        demo = run_cli("demo", "--runs", "3", "--db", db, timeout=600)
        assert demo.returncode == 0, demo.stderr
        assert "| local-stories260k | 1.0.0 |" in demo.stdout  # the board, post-shaped
        assert "Throughput" in demo.stdout and "95 % CI" in demo.stdout  # the compare table
        board = run_cli("board", "--json", "-", "--db", db)
        assert board.returncode == 0, board.stderr
        document = json.loads(board.stdout)
        assert document["schema_version"] == 1
        return document["rows"]

    return demo_board


@pytest.mark.llama
@pytest.mark.postgres
def test_demo_then_board_and_compare_on_sqlite_and_postgresql(demo_board, run_cli, tmp_path):
    pg = os.environ.get("SERVELAB_TEST_PG")
    if not pg:
        pytest.skip("SERVELAB_TEST_PG is not set (.ci/run starts a PostgreSQL server)")
    boards = {
        name: demo_board(db) for name, db in (("sqlite", str(tmp_path / "r.db")), ("postgres", pg))
    }
    for rows in boards.values():
        stacks = {row["stack"]: row for row in rows if not row.get("reported")}
        assert {"local-stories260k", "local-stories260k-draft"} <= set(stacks)
        for row in stacks.values():
            assert row["decode_tps"] > 0 and row["n"] == 2  # measured, cold run excluded
            assert row["vision"] is False and row["tools"] is False  # checked, honestly failed
        assert stacks["local-stories260k-draft"]["acceptance_rate"] > 0.9
    shape = {
        name: sorted(
            tuple(row[key] for key in BOARD_KEYS)
            for row in rows
            if row["stack"].startswith("local-")
        )
        for name, rows in boards.items()
    }
    assert shape["sqlite"] == shape["postgres"]
    compare = run_cli("compare", "local-stories260k", "local-stories260k-draft", "--db", pg)
    assert compare.returncode == 0, compare.stderr
    assert "Throughput" in compare.stdout and "%" in compare.stdout


def test_two_bench_processes_share_one_sqlite_file(tmp_path):
    db = tmp_path / "shared.db"
    with FaultServer(rate=400) as one, FaultServer(rate=400) as two:
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "servelab",
                    "bench",
                    "--endpoint",
                    server.url,
                    "--model",
                    "m",
                    "--name",
                    name,
                    "--runs",
                    "12",
                    "--tokens",
                    "40",
                    "--db",
                    str(db),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name, server in (("first", one), ("second", two))
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
    from servelab.store import Store

    stored = {bench.provenance.stack: bench for bench in Store(str(db)).benches()}
    assert set(stored) == {"first", "second"}
    assert all(len(bench.runs) == 12 and bench.status == "complete" for bench in stored.values())
