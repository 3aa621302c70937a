"""The wheel holds what an installed servelab reads: recipes, templates, schemas, workloads."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from tests.support import REPO


def test_wheel_builds_with_recipes_and_templates(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(REPO), "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    [wheel] = tmp_path.glob("servelab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "servelab/recipes/local-stories260k.yaml" in names
    assert "servelab/report/templates/report.html.j2" in names
    assert "servelab/schemas/bench.json" in names and "servelab/data/post-leaderboard.yaml" in names
    assert any(name.startswith("servelab/workloads/data/") for name in names)
    assert not any(name.startswith("tests/") for name in names)
