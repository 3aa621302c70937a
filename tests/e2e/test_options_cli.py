"""One name for the workload option: --workload (bench and tune); --prompt is a hidden alias."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("flag", ["--workload", "--prompt"])
def test_bench_workload_and_its_deprecated_alias(run_cli, tmp_path, flag):
    done = run_cli(
        "bench", "--endpoint", "http://127.0.0.1:9", flag, "nope", "--db", str(tmp_path / "r.db")
    )
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("servelab: --workload: unknown workload 'nope'"), done.stderr
    assert ("--prompt is deprecated" in done.stderr) == (flag == "--prompt")


def test_bench_help_shows_workload_not_prompt(run_cli):
    text = run_cli("bench", "--help", env={"COLUMNS": "200"}).stdout
    assert "--workload" in text and "--prompt" not in text
