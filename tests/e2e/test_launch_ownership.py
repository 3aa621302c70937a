"""Launch owns its engine and its port (issue 17, items 1 and 2; acceptance 1 and 2).

The real llama-server where the behaviour depends on it; the fake slow engine where a test must
hold start-up still at one instant.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from servelab.errors import EngineFailed
from servelab.ports import free_port
from tests.support import fake_engine_pids, pid_alive

FAKES = Path(__file__).resolve().parents[1] / "fakes"


def _pids_with(marker: str) -> list[int]:
    """Pids whose command line or environment holds ``marker`` (llama-server started here)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        keeper = b"servelab.supervisor" in cmdline  # its argv holds the engine's
        mine = b"llama-server" in cmdline and marker.encode() in cmdline + environ and not keeper
        if mine and pid_alive(int(entry)):
            found.append(int(entry))
    return found


def _status_rows(stdout: str) -> list[dict]:
    """The rows of `status --json` (a document: schema_version and items)."""
    return json.loads(stdout)["items"] if stdout.strip() else []


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = [pid for pid in pids if pid_alive(pid)]
        if not left:
            return []
        time.sleep(0.1)
    return [pid for pid in pids if pid_alive(pid)]


@pytest.fixture
def squatter():
    """Another OpenAI-compatible server, in its own process, on a port of its own."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.squatter", str(port)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=FAKES.parents[1],
    )
    assert proc.stdout.readline().startswith("listening")
    yield port, proc.pid
    proc.kill()
    proc.wait(timeout=10)


@pytest.mark.llama
def test_up_on_a_taken_port_exits_3_and_starts_nothing(squatter, run_cli):
    """Item 2 / acceptance 2: `up` printed "ready" with the other server's model, exit 0."""
    port, holder = squatter
    result = run_cli("up", "local-stories260k", "--port", str(port), timeout=60)
    assert result.returncode == 3, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"port {port} on 127.0.0.1 is already in use by pid {holder}" in lines[0]
    assert "tests.fakes.squatter" in lines[0] and "nothing was started" in lines[0]
    assert "ready" not in result.stdout
    assert _pids_with(f"--port\0{port}") == []
    assert _status_rows(run_cli("status", "--json").stdout) == []


@pytest.mark.llama
def test_ready_counts_only_the_engine_servelab_started(squatter, monkeypatch):
    """Item 2, the race behind the check: a server that takes the port after the check must
    not make the launch "ready"; our engine fails to bind and the failure is reported."""
    from servelab.recipe import load_recipe

    launch = importlib.import_module("servelab.launch")  # the module, not servelab.launch()
    port, _holder = squatter
    monkeypatch.setattr(launch, "ensure_port_free", lambda host, port: None)
    with pytest.raises(EngineFailed) as info:
        launch.start(load_recipe("local-stories260k"), port=port, timeout=60)
    assert info.value.diagnosis is not None
    assert info.value.diagnosis.kind == "port_in_use", info.value


def _slow_recipe(tmp_path: Path) -> Path:
    script = tmp_path / "engine.sh"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} {FAKES / 'slow_engine.py'}\n")
    script.chmod(0o755)
    recipe = tmp_path / "slow.yaml"
    recipe.write_text(
        f"name: slow\nengine: {{name: llamacpp, binary: {script}}}\n"
        f"model: {{id: {FAKES / 'slow_engine.py'}}}\n"
    )
    return recipe


def _fake_engine_pids(home: Path, timeout: float = 30) -> tuple[int, int]:
    return fake_engine_pids(home / "state" / "logs" / "slow.log", timeout)


def test_a_stale_engine_is_reported_by_status_and_stopped_by_down(tmp_path, servelab_home, run_cli):
    """Item 1: with launcher and keeper both killed, the engine ran on, invisible to both."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "servelab", "up", str(_slow_recipe(tmp_path)), "--timeout", "120"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    engine, child = _fake_engine_pids(servelab_home)
    [record] = (servelab_home / "state" / "keepers").glob("*.json")
    keeper = json.loads(record.read_text())["keeper_pid"]
    os.kill(keeper, signal.SIGKILL)
    proc.kill()
    proc.wait(timeout=10)
    assert pid_alive(engine) and pid_alive(child)
    rows = _status_rows(run_cli("status", "--json").stdout)
    assert [(row["name"], row["pid"], row["stale"]) for row in rows] == [("slow", engine, True)]
    down = run_cli("down")
    assert down.returncode == 0 and "slow (stale)" in down.stdout
    assert _wait_gone([engine, child], 20) == []
    assert _status_rows(run_cli("status", "--json").stdout) == []


def test_an_engine_whose_keeper_died_unrecorded_is_found_by_its_token(
    tmp_path, servelab_home, run_cli
):
    """The keeper's record gone too (killed mid-write): the engine's environment names it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "servelab", "up", str(_slow_recipe(tmp_path)), "--timeout", "120"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    engine, child = _fake_engine_pids(servelab_home)
    [record] = (servelab_home / "state" / "keepers").glob("*.json")
    os.kill(json.loads(record.read_text())["keeper_pid"], signal.SIGKILL)
    proc.kill()
    proc.wait(timeout=10)
    record.unlink()
    rows = _status_rows(run_cli("status", "--json").stdout)
    assert [(row["name"], row["pid"], row["stale"]) for row in rows] == [("slow", engine, True)]
    assert run_cli("down", "slow").returncode == 0
    assert _wait_gone([engine, child], 20) == []


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The CLI from a worker thread (fixtures are not thread-local helpers)."""
    return subprocess.run(
        [sys.executable, "-m", "servelab", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def _settle_keepers(home: Path, seconds: float = 20) -> None:
    """Wait until this trial's keeper has finished, or handed its engine over to `up`'s registry
    (a keeper still starting could launch its engine after a first look found none)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        keepers = [
            pid
            for pid in _all_pids()
            if b"servelab.supervisor" in _cmdline(pid) and str(home).encode() in _cmdline(pid)
        ]
        if not keepers or list((home / "state" / "running").glob("*.json")):
            return
        time.sleep(0.2)


def _all_pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


INSTANTS = [round(0.1 * step, 1) for step in range(1, 21)] + [4.0, 8.0]  # and after ready


def _kill_up_at(instant: float, how: signal.Signals, root: Path) -> dict:
    """One trial: start `up`, signal it at ``instant``, then see what is left and clean up."""
    home = root / f"{how.name}-{instant}"
    env = {**os.environ, "SERVELAB_HOME": str(home)}
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "servelab", "up", "local-stories260k", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    time.sleep(instant)
    proc.send_signal(how)
    proc.wait(timeout=60)
    marker = f"--port\0{port}\0"
    status_env = {"SERVELAB_HOME": str(home)}
    _settle_keepers(home)
    survivors, listed = _wait_gone(_pids_with(marker), 3), set()
    for wait in (0, 12):  # the keeper may still be stopping it; a registered engine stays
        survivors = _wait_gone(survivors, wait)
        if not survivors:
            break
        status = _cli("status", "--json", env=status_env)
        listed = {row["pid"] for row in _status_rows(status.stdout)}
        if set(survivors) <= listed:
            break
    if survivors:
        _cli("down", env=status_env)
    after_down = _wait_gone(_pids_with(marker), 20)
    return {
        "instant": instant,
        "signal": how.name,
        "survivors": survivors,
        "unlisted": [pid for pid in survivors if pid not in listed],
        "after_down": after_down,
    }


@pytest.mark.llama
@pytest.mark.timeout(900)
def test_killing_up_at_any_instant_leaves_no_unknown_engine(tmp_path):
    """Acceptance 1: SIGKILL and SIGINT at 20 instants over the first 2 s (and one later): no
    llama-server survives, or `status` lists it and `down` stops it."""
    trials = [(instant, how) for instant in INSTANTS for how in (signal.SIGKILL, signal.SIGINT)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda trial: _kill_up_at(*trial, tmp_path), trials))
    bad = [r for r in results if r["unlisted"] or r["after_down"]]
    assert not bad, bad
    listed = sum(1 for r in results if r["survivors"])
    print(f"{len(results)} trials: {len(results) - listed} left no engine; {listed} left one that")
    print("status listed and down stopped")
    assert len(results) == 2 * len(INSTANTS)
