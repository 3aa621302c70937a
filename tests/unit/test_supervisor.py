"""The keeper survives a dead launcher at every instant (issue 17, item 1)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.support import pid_alive

ENGINE = (
    "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); "
    "[time.sleep(0.1) for _ in range(600)]"
)


def _keeper(tmp_path: Path, **popen) -> tuple[subprocess.Popen, Path, Path]:
    pidfile, record = tmp_path / "engine.pid", tmp_path / "keeper.json"
    spec = {
        "record": str(record),
        "launch": f"{tmp_path}|test|t",
        "name": "t",
        "url": "http://127.0.0.1:1",
        "log": str(tmp_path / "t.log"),
        "grace": 2.0,
    }
    argv = [sys.executable, "-c", ENGINE, str(pidfile)]
    keeper = subprocess.Popen(
        [sys.executable, "-m", "servelab.supervisor", json.dumps(spec), "--", *argv],
        start_new_session=True,
        **popen,
    )
    return keeper, pidfile, record


def _engine_pid(pidfile: Path) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if pidfile.exists() and pidfile.read_text():
            return int(pidfile.read_text())
        time.sleep(0.05)
    raise AssertionError("the engine never started")


def test_launcher_gone_before_the_pid_is_told_stops_the_engine(tmp_path):
    """The keeper died with BrokenPipeError writing the engine's pid to a closed pipe, and the
    engine ran on under PID 1 (seen on 6 of 9 SIGKILLs of `up` 0.65–0.9 s after start)."""
    keeper, pidfile, record = _keeper(tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    keeper.stdout.close()  # the launcher's read end is gone; its write end (stdin) still open
    assert keeper.wait(timeout=30) == 0
    log = (tmp_path / "t.log").read_text()
    engine = int(re.search(r"the launcher is gone; stopping engine pid (\d+)", log).group(1))
    deadline = time.monotonic() + 10
    while pid_alive(engine) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(engine)
    assert not record.exists()
    assert "Traceback" not in (tmp_path / "t.log").read_text()
    keeper.stdin.close()


def test_the_record_names_keeper_launcher_and_engine_while_running(tmp_path):
    keeper, pidfile, record = _keeper(tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert keeper.stdout.readline().startswith(b"pid ")
    engine = _engine_pid(pidfile)
    data = json.loads(record.read_text())
    assert data["keeper_pid"] == keeper.pid and data["engine_pid"] == engine
    assert data["launcher_pid"] == os.getpid() and data["keeper_start"]
    keeper.stdin.close()  # launcher gone: the keeper stops the engine and drops its record
    assert keeper.wait(timeout=30) == 0
    assert not pid_alive(engine) and not record.exists()


def test_sigint_to_the_keeper_during_start_up_stops_the_engine(tmp_path):
    keeper, pidfile, record = _keeper(tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    engine = _engine_pid(pidfile)
    keeper.send_signal(2)
    assert keeper.wait(timeout=30) == 130
    assert not pid_alive(engine) and not record.exists()
