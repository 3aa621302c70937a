"""Recipe fuzz, subprocess sample (issue 17, acceptance 4): the nastiest inputs through the real
CLI — exit 0 or 2, one line on stderr, no traceback, under 5 s of work and 1 GB each."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

GIB = 1024**3
SAMPLES = {
    "alias-bomb": "a0: &a0 [lol]\n"
    + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)),
    "deep": "notes: " + "[" * 1000 + "]" * 1000 + "\n",
    "dup": "name: a\nname: b\n",
    "surrogate": 'name: "\\ud800"\n',
    "huge-int": "name: t\nengine: vllm\nmodel: x\ncontext: {max_model_len: " + "9" * 5000 + "}\n",
    "pipeline": "name: t\nengine: vllm\nmodel: x\nparallel: {pipeline: 9223372036854775808}\n",
    "python-tag": "name: !!python/object/apply:os.system ['true']\n",
    "shorthand": "name: t\nengine: vllm\nmodel: x\n",
}


def _write(case: str, path) -> None:
    if case == "utf-16":
        path.write_bytes("name: t\nengine: vllm\nmodel: x\n".encode("utf-16"))
    elif case == "binary":
        path.write_bytes(bytes(range(256)) * 4)
    else:
        path.write_text(SAMPLES[case], encoding="utf-8")


@pytest.mark.parametrize("case", [*sorted(SAMPLES), "utf-16", "binary"])
def test_show_subprocess_sample(case, tmp_path):
    path = tmp_path / f"{case}.yaml"
    _write(case, path)
    out_path, err_path = tmp_path / "out", tmp_path / "err"
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "servelab", "show", str(path)], stdout=out, stderr=err
        )
        _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = out_path.read_text(), err_path.read_text()
    assert proc.returncode in (0, 2), stderr
    assert "Traceback" not in stderr
    if proc.returncode == 2:
        assert len(stderr.strip().splitlines()) == 1 and str(path) in stderr, stderr
    else:
        assert stdout.startswith("vllm serve x ")
    assert usage.ru_utime + usage.ru_stime < 5.0, "CPU seconds (interpreter start-up included)"
    assert usage.ru_maxrss * 1024 < GIB
