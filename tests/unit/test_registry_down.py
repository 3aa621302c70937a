"""`down` names each engine it stops once, even while its keeper is still exiting."""

from __future__ import annotations

import json
import subprocess
import sys

from servelab import registry
from servelab.procgroup import start_time

SLOW_TO_EXIT = (
    "import signal, time; signal.signal(signal.SIGTERM, lambda *a: None); print('ready', "
    "flush=True); time.sleep(30)"
)


def test_down_does_not_report_its_own_exiting_keeper_as_stale(servelab_home):
    engine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                              start_new_session=True)  # fmt: skip
    argv = [sys.executable, "-c", SLOW_TO_EXIT]
    keeper = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert keeper.stdout.readline().strip() == "ready"  # it ignores SIGTERM from now on
        (registry.registry_dir() / "one.json").write_text(json.dumps({
            "name": "one", "pid": engine.pid, "launch": "L1", "engine": "llamacpp",
            "url": "http://127.0.0.1:9", "keeper_pid": keeper.pid,
            "keeper_start": start_time(keeper.pid),
        }))  # fmt: skip
        (registry.keepers_dir() / "L1.json").write_text(json.dumps({
            "launch": "L1", "name": "one", "keeper_pid": keeper.pid,
            "keeper_start": start_time(keeper.pid), "engine_pid": engine.pid + 10**7,
            "launcher_pid": None,
        }))  # fmt: skip
        assert registry.down("one", grace=2.0) == ["one"]
        assert engine.wait(timeout=10) is not None
    finally:
        for proc in (engine, keeper):
            proc.kill()
            proc.wait(timeout=10)
