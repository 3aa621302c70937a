"""`servelab import` of other tools' files, then `board` (table, --json, --csv), as a user would."""

from __future__ import annotations

import csv
import io
import json

from tests.support import DATA, REPO

IMPORTS = DATA / "imports"
VLLM_REAL = (
    REPO / "benchmarks/results/vllm-0.20.2-h100/vllm-bench-serve-vllm-standin-1b-nospec.json"
)
SERVELAB_REAL = REPO / "benchmarks/results/vllm-0.20.2-h100/bench-vllm-standin-1b-nospec.json"
TOOL_FILES = sorted(
    path for path in IMPORTS.iterdir() if path.suffix in (".json", ".jsonl", ".csv")
)


def _tool_of(name: str) -> str:
    """The tool a test file came from, by its name (tests/data/imports/README.md)."""
    for tool in ("llama-bench", "guidellm", "aiperf", "vllm"):
        if name.startswith(tool):
            return tool
    raise AssertionError(f"{name}: name it after the tool that wrote it")


def _import(run_cli, db, *files):
    done = run_cli("import", *map(str, files), "--db", str(db))
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_tool_file_shows_on_the_board_with_provenance(run_cli, tmp_path):
    db = tmp_path / "r.db"
    out = _import(run_cli, db, VLLM_REAL, SERVELAB_REAL, *TOOL_FILES)
    tools = {"vllm", "servelab"} | {_tool_of(path.name) for path in TOOL_FILES}
    for tool in tools:
        assert tool in out.lower(), (tool, out)
    rows = json.loads(run_cli("board", "--json", "--db", str(db)).stdout)["rows"]
    imported = {row["imported"].split()[0].lower() for row in rows if row["imported"]}
    assert {"vllm", "servelab", "llama-bench"} <= imported and tools <= imported
    for row in rows:
        if row["imported"]:
            assert row["figure"] and row["decode_tps"] > 0
    # Unranked rows (another figure definition) come after every ranked row.
    ranked = [row["ranked"] for row in rows]
    assert ranked == sorted(ranked, reverse=True)
    assert not next(row for row in rows if "llama-bench" in row["imported"] or "")["ranked"]
    table = run_cli("board", "--db", str(db), env={"COLUMNS": "250"}).stdout
    assert "(imported: vllm bench serve" in table and "unranked" in table


def test_board_csv_has_the_same_rows_as_json(run_cli, tmp_path):
    db = tmp_path / "r.db"
    _import(run_cli, db, VLLM_REAL, SERVELAB_REAL, *TOOL_FILES)
    as_json = json.loads(run_cli("board", "--json", "--db", str(db)).stdout)["rows"]
    done = run_cli("board", "--csv", "-", "--db", str(db))
    assert done.returncode == 0, done.stderr
    as_csv = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(as_csv) == len(as_json) >= 3
    assert list(as_csv[0]) == list(as_json[0])
    for text_row, row in zip(as_csv, as_json, strict=True):
        for key, value in row.items():
            expected = "" if value is None else str(value)
            assert text_row[key] == expected, (key, text_row[key], value)
    target = tmp_path / "board.csv"
    assert run_cli("board", "--csv", str(target), "--db", str(db)).returncode == 0
    assert target.read_text() == done.stdout


def test_unknown_or_malformed_files_exit_2_with_one_line(run_cli, tmp_path):
    unknown = tmp_path / "x.json"
    unknown.write_text('{"a": 1}')
    broken = tmp_path / "y.json"
    broken.write_text("{")
    for path in (unknown, broken, tmp_path / "missing.json"):
        done = run_cli("import", str(path), "--db", str(tmp_path / "r.db"))
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_version_flag(run_cli):
    done = run_cli("--version")
    assert done.returncode == 0 and done.stdout.startswith("servelab ")
