"""What an attacker or an impatient user tried (issue 17, items 5, 8, 9 and 10), end to end."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from servelab.store import Store
from tests.fakes.fault_server import FaultServer

HOSTILE = """name: hostile
engine: llamacpp
model: {{id: stories260k, file: stories260k.gguf}}
extra_args: ["--x=$(touch {marker})", "`touch {marker}`", "${{HOME}}", "a'b", "c\\\\d", ""]
"""


def test_show_shell_output_is_safe_to_paste(run_cli, tmp_path):
    """Item 5: `$(…)`, backticks and `${` were double-quoted unescaped; pasting ran `touch`."""
    marker = tmp_path / "pwned"
    recipe = tmp_path / "hostile.yaml"
    recipe.write_text(HOSTILE.format(marker=marker))
    shown = run_cli("show", str(recipe), "--format", "shell")
    assert shown.returncode == 0, shown.stderr
    line = shown.stdout.strip()
    # Paste it into bash with `llama-server` standing for the engine: print the argv it gets.
    pasted = subprocess.run(
        ["bash", "-c", "llama-server() { printf '%s\\0' \"$@\"; }\n" + line],
        capture_output=True,
        timeout=30,
    )
    assert pasted.returncode == 0, pasted.stderr
    received = pasted.stdout.decode().split("\0")[:-1]
    argv = run_cli("show", str(recipe), "--format", "argv").stdout.splitlines()
    assert received == argv[1:]
    assert f"--x=$(touch {marker})" in received and "${HOME}" in received
    assert not marker.exists()


def test_sigkill_mid_bench_is_marked_interrupted_on_next_open(tmp_path):
    """Item 8: a bench killed with SIGKILL stayed `running` forever."""
    db = tmp_path / "r.db"
    with FaultServer(rate=100) as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "servelab", "bench", "--endpoint", server.url]
            + ["--model", "fake-model", "--runs", "50", "--tokens", "50", "--db", str(db)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(server.requests) < 4:
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    [bench] = Store(str(db)).benches()
    assert bench.status == "interrupted"
    assert len(bench.runs) >= 3


def test_a_key_in_the_endpoint_url_is_used_but_never_stored_or_printed(run_cli, tmp_path):
    """Item 9: `http://user:KEY@host` was stored verbatim in the database and --json output."""
    db, out = tmp_path / "r.db", tmp_path / "bench.json"
    key = "sk-SECRET-in-url-7431"
    with FaultServer() as server:
        url = server.url.replace("http://", f"http://user:{key}@")
        result = run_cli(
            "bench", "--endpoint", url, "--model", "fake-model", "--runs", "2", "--tokens", "8",
            "--json", str(out), "--db", str(db),
        )  # fmt: skip
        seen = {request.authorization for request in server.requests}
    assert result.returncode == 0, result.stderr
    assert seen == {f"Bearer {key}"}
    assert key not in result.stdout and key not in result.stderr
    assert key not in out.read_text()
    assert json.loads(out.read_text())["provenance"]["endpoint"] == server.url
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("r.db*"))
    assert key.encode() not in stored
    assert Store(str(db)).benches()[0].provenance.endpoint == server.url


def test_logs_refuses_a_path(run_cli, tmp_path, servelab_home):
    """Item 10: `servelab logs ../x` read any *.log the user could read."""
    (servelab_home / "state").mkdir(parents=True, exist_ok=True)
    (servelab_home / "secret.log").write_text("not yours\n")
    result = run_cli("logs", "../../secret")
    assert result.returncode == 2
    assert "not an engine name" in result.stderr and "not yours" not in result.stdout
    assert len(result.stderr.strip().splitlines()) == 1


def test_board_markdown_prints_stack_names_as_text(run_cli, tmp_path):
    """Item 10: `board --markdown` printed stack names as raw HTML."""
    db = tmp_path / "r.db"
    name = '<img src=x onerror="alert(1)">[x](javascript:alert(1))|'
    with FaultServer() as server:
        bench = run_cli(
            "bench", "--endpoint", server.url, "--model", "fake-model", "--name", name,
            "--runs", "2", "--tokens", "8", "--db", str(db),
        )  # fmt: skip
    assert bench.returncode == 0, bench.stderr
    board = run_cli("board", "--markdown", "--db", str(db))
    assert board.returncode == 0, board.stderr
    assert "<img" not in board.stdout and "[x](javascript" not in board.stdout
    assert '&lt;img src=x onerror="alert(1)"&gt;\\[x\\](javascript:alert(1))\\|' in board.stdout
