"""What servelab has running: engines `up` registered, and stale ones from an earlier crash.

Two kinds of files in the state dir:
- ``running/NAME.json``: an engine `servelab up` started and handed over (detached);
- ``keepers/LAUNCH.json``: written by every keeper before it starts its engine, removed when
  the keeper ends normally.
A keeper record that no registered engine claims, whose launcher is gone, while its keeper or
engine still runs, is *stale* (both the launcher and the keeper were killed, say): `status`
reports it and `down` stops it. On Linux a scan of ``/proc`` also finds an engine whose keeper
died before recording it, by the ``SERVELAB_LAUNCH`` token in its environment.
"""

from __future__ import annotations

import json
import os
import signal
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx

from servelab.engines import get_engine
from servelab.errors import BadInput
from servelab.paths import state_dir
from servelab.procgroup import LAUNCH_ENV, group_alive, process_alive, stop_group


def registry_dir() -> Path:
    path = state_dir() / "running"
    path.mkdir(parents=True, exist_ok=True)
    return path


def keepers_dir() -> Path:
    path = state_dir() / "keepers"
    path.mkdir(parents=True, exist_ok=True)
    return path


def launch_token(launch_id: str, name: str) -> str:
    """The ``SERVELAB_LAUNCH`` value: this state dir, the launch and the stack name."""
    return f"{state_dir()}|{launch_id}|{name}"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def registered() -> list[tuple[Path, dict[str, Any]]]:
    """(file, record) of every engine `up` registered."""
    found = []
    for path in sorted(registry_dir().glob("*.json")):
        record = _read(path)
        if record is not None and "pid" in record:
            found.append((path, record))
    return found


def running() -> list[dict[str, Any]]:
    """Registered engines with their liveness, then stale ones (``stale: True``)."""
    out = []
    for _path, record in registered():
        alive = group_alive(record["pid"])
        ready = False
        if alive:
            try:
                health = get_engine(record["engine"]).health_path
                ready = httpx.get(record["url"] + health, timeout=2.0).status_code == 200
            except (httpx.HTTPError, BadInput):
                ready = False
        out.append({**record, "alive": alive, "ready": ready, "stale": False})
    for stale in stale_launches():
        out.append(
            {
                "name": stale["name"],
                "pid": stale["engine_pid"],
                "keeper_pid": stale.get("keeper_pid"),
                "url": stale.get("url"),
                "engine": None,
                "model": None,
                "alive": True,
                "ready": False,
                "stale": True,
            }
        )
    return out


def stale_launches() -> list[dict[str, Any]]:
    """Keeper records (and, on Linux, engine processes) that nothing live owns any more."""
    records = [record for _path, record in registered()]
    claimed = {record.get("launch") for record in records}
    claimed_pids = {record.get("pid") for record in records}
    stale: dict[str, dict[str, Any]] = {}
    for path in sorted(keepers_dir().glob("*.json")):
        record = _read(path)
        if record is None or record.get("launch") in claimed:
            continue
        if record.get("engine_pid") in claimed_pids:
            continue
        keeper = process_alive(record.get("keeper_pid"), record.get("keeper_start"))
        engine_pid = record.get("engine_pid")
        engine = bool(engine_pid) and group_alive(engine_pid)
        if not keeper and not engine:
            path.unlink(missing_ok=True)  # nothing left: a record its keeper could not remove
            continue
        if process_alive(record.get("launcher_pid"), record.get("launcher_start")):
            continue  # still starting, or a bench/check/tune's own engine
        stale[record["launch"]] = {**record, "record": str(path)}
    for pid, launch_id, name in _tokened_processes():
        if pid in claimed_pids or launch_id in claimed or launch_id in stale:
            continue
        if _orphaned(launch_id):
            stale[launch_id] = {"launch": launch_id, "name": name, "engine_pid": pid}
    return list(stale.values())


def _orphaned(launch_id: str) -> bool:
    """No keeper record at all: the keeper died before writing or after losing it."""
    return not (keepers_dir() / f"{launch_id}.json").exists()


def _tokened_processes() -> list[tuple[int, str, str]]:
    """(pid, launch id, name) of process-group leaders carrying this state dir's token."""
    prefix = f"{LAUNCH_ENV}={state_dir()}|".encode()
    found = []
    try:
        entries = [entry for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return []
    for entry in entries:
        pid = int(entry)
        try:
            if os.getpgid(pid) != pid:
                continue
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        for item in environ.split(b"\0"):
            if item.startswith(prefix):
                _root, launch_id, name = item.decode(errors="replace").rsplit("|", 2)
                found.append((pid, launch_id, name))
    return found


def stop_stale(entry: dict[str, Any], grace: float) -> None:
    """Stop a stale launch: its keeper (if any) and its engine's group; drop its record."""
    if process_alive(entry.get("keeper_pid"), entry.get("keeper_start")):
        with suppress(ProcessLookupError, PermissionError):
            os.kill(entry["keeper_pid"], signal.SIGTERM)
    if entry.get("engine_pid"):
        stop_group(entry["engine_pid"], grace)
    if entry.get("record"):
        Path(entry["record"]).unlink(missing_ok=True)


def down(name: str | None = None, grace: float = 10.0) -> list[str]:
    """Stop one registered engine (or all with name None), and stale ones of that name."""
    stopped, launches = [], set()
    for path, record in registered():
        if name is not None and record["name"] != name:
            continue
        launches.add(record.get("launch"))
        with suppress(ProcessLookupError, PermissionError):
            if process_alive(record.get("keeper_pid"), record.get("keeper_start")):
                os.kill(record["keeper_pid"], signal.SIGTERM)
        stop_group(record["pid"], grace)
        path.unlink(missing_ok=True)
        stopped.append(record["name"])
    for entry in stale_launches():
        if entry.get("launch") in launches:
            continue  # the keeper just told to stop, still exiting: not a stale launch
        if name is None or entry["name"] == name:
            stop_stale(entry, grace)
            stopped.append(f"{entry['name']} (stale)")
    if name is not None and not stopped:
        raise BadInput(f"{name}: no such running engine (see `servelab status`)")
    return stopped
