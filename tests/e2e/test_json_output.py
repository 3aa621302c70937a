"""`--json -` writes only JSON to stdout, with schema_version, on every command that has it:
each document goes through `python -m json.tool` as a user's pipe would."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from servelab.store import Store
from tests.fakes.fault_server import FaultServer
from tests.fakes.tune_engine import write_recipe
from tests.store_samples import BASELINE_SERIES, POST_TABLE_1, full_bench


def json_tool(stdout: str) -> dict:
    """What `… --json - | python -m json.tool` sees; it must succeed."""
    tool = subprocess.run(
        [sys.executable, "-m", "json.tool"], input=stdout, capture_output=True, text=True
    )
    assert tool.returncode == 0, tool.stderr
    document = json.loads(tool.stdout)
    assert document["schema_version"] == 1
    return document


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "j.db")
    with Store(path) as store:
        store.save_bench(full_bench("fast", "1.0.0", POST_TABLE_1))
        store.save_bench(full_bench("slow", "1.0.0", BASELINE_SERIES))
    return path


def test_board_compare_and_recommend(run_cli, db):
    board = json_tool(run_cli("board", "--json", "-", "--db", db).stdout)
    assert [row["stack"] for row in board["rows"]] == ["fast", "slow"] and board["ties"] == []
    compared = json_tool(run_cli("compare", "slow", "fast", "--json", "-", "--db", db).stdout)
    assert compared["b"]["stack"] == "fast"
    by_id = json_tool(
        run_cli("compare", compared["a"]["bench_id"], "fast", "--json", "-", "--db", db).stdout
    )
    assert by_id["change_pct"] == pytest.approx(compared["change_pct"])
    recommended = json_tool(run_cli("recommend", "--json", "-", "--db", db).stdout)
    assert recommended["best"]["stack"] == "fast"


def test_plan_and_check(run_cli, tmp_path):
    plan = json_tool(run_cli("plan", "local-stories260k", "--json", "-").stdout)
    assert "kv_bytes_per_token" in plan
    with FaultServer() as server:
        done = run_cli(
            "check", "--endpoint", server.url, "--model", "fake-model", "--only", "tools",
            "--json", "-", "--db", str(tmp_path / "c.db"),
        )  # fmt: skip
    assert json_tool(done.stdout)["checks"][0]["name"] == "tools"
    assert done.stderr  # the people's report went to stderr


def test_bench_stdout_is_only_json(run_cli, tmp_path):
    with FaultServer(rate=1000.0, timings=True, metrics=None) as server:
        done = run_cli(
            "bench", "--endpoint", server.url, "--model", "fake-model", "--runs", "2",
            "--tokens", "50", "--json", "-", "--db", str(tmp_path / "b.db"),
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json_tool(done.stdout)["status"] == "complete"
    assert "decode t/s" in done.stderr  # the table and formulas, for people, on stderr


@pytest.mark.engine
def test_tune(run_cli, tmp_path):
    recipe = write_recipe(tmp_path)
    done = run_cli(
        "tune", str(recipe), "--sweep", "speculative.num_speculative_tokens=2",
        "--db", str(tmp_path / "t.db"), "--json", "-", timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json_tool(done.stdout)
    assert report["best"] is not None
