"""Library errors name fields; only the CLI shows a field as its flag."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from servelab.cli.app import flag_for
from servelab.errors import BadInput, RunFailed

SRC = Path(__file__).resolve().parents[2] / "src" / "servelab"
FLAG = re.compile(r"(^|[\s(])--[a-z]")


def test_a_field_error_reads_as_the_field_and_in_the_cli_as_the_flag():
    error = BadInput("expected a fraction in (0, 1]", field="gpu_util", value=1.5)
    assert str(error) == "gpu_util 1.5: expected a fraction in (0, 1]"
    assert error.text(flag_for) == "--gpu-util 1.5: expected a fraction in (0, 1]"
    hint = RunFailed("rerun with {resume} abc", mentions=["resume"])
    assert str(hint) == "rerun with resume abc"
    assert hint.text(flag_for) == "rerun with --resume abc"
    assert flag_for("host_port") == "--port" and flag_for("max_model_len") == "--max-model-len"
    assert str(BadInput("plain")) == "plain" and BadInput("plain").exit_code == 2


def test_no_raise_outside_the_cli_names_a_flag():
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if "cli" in path.relative_to(SRC).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            texts = [
                n.value
                for n in ast.walk(node.exc)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            ]
            if any(FLAG.search(text) for text in texts):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []
