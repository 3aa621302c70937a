"""board: one row per stack version; checks decide ✓/✗ (blank when never checked); imports."""

from __future__ import annotations

import json

import pytest

from servelab.records import CheckSet, Regimes
from servelab.report.board import board_markdown, board_rows
from servelab.store import Store, load_reported
from tests.store_samples import (
    BASELINE_SERIES,
    POST_TABLE_1,
    POST_TABLE_2,
    fresh_pg_database,
    full_bench,
    passed,
)

STEADY = Regimes(bimodal=False)


def _measured(stack, version, values, started_at, **kwargs):
    bench = full_bench(stack, version, values, started_at=started_at, **kwargs)
    return bench.model_copy(update={"regimes": STEADY})


def test_an_unchecked_stack_shows_blank_not_a_tick(tmp_path):
    with Store(str(tmp_path / "r.db")) as store:
        store.save_bench(_measured("fast", "1.0.0", POST_TABLE_1, 1.0))
        [row] = board_rows(store)
        assert (row.vision, row.tools) == (None, None)
        cells = board_markdown([row]).splitlines()[2].split(" | ")
        assert cells[6:8] == ["", ""]  # Multimodal?, Tool calling?
        store.save_checks(
            CheckSet(stack="fast", stack_version="1.0.0", checks=[passed("vision", False)])
        )
        [row] = board_rows(store)
        assert (row.vision, row.tools) == (False, None)
        store.save_checks(CheckSet(stack="fast", stack_version="1.0.0", checks=[passed("tools")]))
        [row] = board_rows(store)
    assert (row.vision, row.tools) == (False, True)
    assert board_markdown([row]).splitlines()[2].split(" | ")[6:8] == ["✗", "✓"]


def test_one_row_per_stack_version_from_its_latest_complete_bench(tmp_path):
    with Store(str(tmp_path / "r.db")) as store:
        store.save_bench(_measured("s", "1", POST_TABLE_1, 1.0))
        newer = _measured("s", "1", POST_TABLE_2, 2.0).model_copy(update={"status": "running"})
        store.save_bench(newer)  # unfinished: not on the board
        store.save_bench(_measured("s", "2", BASELINE_SERIES, 3.0))
        rows = board_rows(store)
        assert [(r.version, round(r.decode_tps, 3)) for r in rows] == [
            ("1", 250.548),
            ("2", 135.97),
        ]
        store.save_bench(_measured("s", "1", POST_TABLE_2, 4.0))
        first = board_rows(store)[0]
    assert round(first.decode_tps, 3) == 250.803 and first.n == 9
    assert first.engine == "vllm 0.21.0" and first.gpu == "NVIDIA H100 80GB HBM3"
    assert first.acceptance_rate == pytest.approx(0.8641, abs=1e-4) and first.context == 131072


def test_the_markdown_has_the_posts_leaderboard_shape(tmp_path):
    with Store(str(tmp_path / "r.db")) as store:
        store.save_bench(_measured("local-stories260k", "1.0.0", [2200.5, 2190.25], 1.0))
        store.save_checks(
            CheckSet(
                stack="local-stories260k",
                stack_version="1.0.0",
                checks=[passed("vision", False), passed("tools")],
            )
        )
        lines = board_markdown(board_rows(store)).splitlines()
    assert lines[0] == (
        "| Stack | Version | t/s AVG | σ | n | α | Multimodal? | Tool calling? | Context | Engine"
        " | GPU |"
    )
    assert lines[1] == "|---|---|---|---|---|---|---|---|---|---|---|"
    assert lines[2] == (
        "| local-stories260k | 1.0.0 | 2195.38 | 1.69 | 2 | 86.4 % | ✗ | ✓ | 128K | vllm 0.21.0"
        " | NVIDIA H100 80GB HBM3 |"
    )


def test_importing_the_posts_leaderboard_shows_six_reported_rows(run_cli, tmp_path):
    db = str(tmp_path / "r.db")
    done = run_cli("import", "post-leaderboard", "--db", db)
    assert done.returncode == 0, done.stderr
    assert "imported 6 reported (not measured) results" in done.stdout
    document = json.loads(run_cli("board", "--json", "-", "--db", db).stdout)
    assert document["schema_version"] == 1
    rows = document["rows"]
    assert len(rows) == 6 and all(row["reported"] for row in rows)
    assert [row["decode_tps"] for row in rows] == [250.54, 249.30, 224.00, 182.14, 135.97, 107.54]
    contract = {
        "stack",
        "version",
        "decode_tps",
        "stdev",
        "acceptance_rate",
        "vision",
        "tools",
        "context",
        "engine",
        "gpu",
    }
    assert contract <= set(rows[0])
    assert (rows[0]["vision"], rows[0]["tools"], rows[1]["vision"]) == (True, True, False)
    markdown = run_cli("board", "--markdown", "--db", db).stdout.splitlines()
    assert len(markdown) == 8 and all("(reported)" in line for line in markdown[2:])
    assert markdown[2].startswith(
        "| Gemma 4 26B-A4B Vision + MTP (vLLM v0.21) (reported) | 1.0.5 | 250.54 |"
    )
    assert "| ✓ | ✓ | 128K |" in markdown[2]


def test_measured_and_reported_rows_of_one_version_stay_apart(tmp_path):
    with Store(str(tmp_path / "r.db")) as store:
        store.import_reported(load_reported("post-leaderboard"))
        store.save_bench(_measured("gemma4-26b-a4b-vision-mtp", "1.0.5", POST_TABLE_1, 1.0))
        rows = [r for r in board_rows(store) if r.stack == "gemma4-26b-a4b-vision-mtp"]
    assert [(r.reported, r.vision) for r in rows] == [(False, None), (True, True)]


def test_board_of_an_empty_database(run_cli, tmp_path):
    db = str(tmp_path / "r.db")
    assert json.loads(run_cli("board", "--json", "--db", db).stdout) == {
        "schema_version": 1,
        "rows": [],
        "ties": [],
    }
    done = run_cli("board", "--db", db)
    assert done.returncode == 0 and "no results in" in done.stdout


def _fill(db: str) -> None:
    with Store(db) as store:
        store.import_reported(load_reported("post-leaderboard"))
        store.save_bench(_measured("local-stories260k", "1.0.0", [2201.0, 2189.5, 2210.25], 1.0))
        store.save_bench(_measured("local-stories260k-draft", "1.0.0", [800.5, 790.0], 2.0))
        store.save_checks(
            CheckSet(
                stack="local-stories260k",
                stack_version="1.0.0",
                checks=[passed("vision", False), passed("tools")],
            )
        )


@pytest.mark.postgres
def test_sqlite_and_postgresql_give_the_same_board(run_cli, tmp_path):
    sqlite_db = str(tmp_path / "r.db")
    _fill(sqlite_db)
    with fresh_pg_database() as pg_db:
        _fill(pg_db)
        outputs = [run_cli("board", "--markdown", "--db", db) for db in (sqlite_db, pg_db)]
        rows = []
        for db in (sqlite_db, pg_db):
            with Store(db) as store:
                varying = {"bench_id", "started_at"}
                rows.append([row.model_dump(exclude=varying) for row in board_rows(store)])
    assert all(done.returncode == 0 for done in outputs), [d.stderr for d in outputs]
    assert outputs[0].stdout == outputs[1].stdout
    assert rows[0] == rows[1] and len(rows[0]) == 8
