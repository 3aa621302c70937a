"""A small keeper process between servelab and an engine, so no engine is ever orphaned.

The launcher starts it in a session of its own (a Ctrl-C at the terminal reaches the launcher,
not the keeper). At its first instruction the keeper takes its stop signals; then it writes its
record (``keepers/ID.json``: its pid, the launcher's, the engine's once started) *before*
anything can fail, starts the engine in a new process group carrying ``SERVELAB_LAUNCH`` in its
environment, records the engine's pid, and only then tells the launcher. Telling may fail (the
launcher died): that is the same as end-of-file on the launcher's pipe — the engine is stopped.

While attached, end-of-file on stdin means servelab died (crash, SIGKILL, Ctrl-C): the keeper
stops the engine's whole group. After ``detach`` (``servelab up`` once the engine is ready) it
only keeps the engine and reaps it; SIGTERM to the keeper (``servelab down``) stops the group:
SIGTERM, then SIGKILL after a grace period. The record goes when the keeper ends normally; one
left behind (keeper killed too) is how ``status`` and ``down`` find a stale engine.

Run as ``python -m servelab.supervisor SPEC_JSON -- ARGV...``.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from servelab.procgroup import LAUNCH_ENV, start_time, stop_group

_STOP: list[int] = []


def _note_stop(signum: int, _frame: object) -> None:
    _STOP.append(signum)


def write_record(path: Path, record: dict[str, Any]) -> None:
    """Atomic write (a reader never sees half a record)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)


def _tell(line: str) -> bool:
    """Write a line to the launcher; False when it is gone."""
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        return True
    except (OSError, ValueError):
        return False


def _log(spec: dict[str, Any], message: str) -> None:
    with open(spec["log"], "a") as log:
        log.write(f"servelab keeper: {message}\n")


def _start_engine(spec: dict[str, Any], command: list[str]) -> subprocess.Popen | None:
    env = {**os.environ, LAUNCH_ENV: spec["launch"]}
    with open(spec["log"], "ab", buffering=0) as log:
        try:
            return subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )
        except OSError as exc:
            log.write(f"servelab: cannot start engine: {exc}\n".encode())
            return None


def _watch(engine: subprocess.Popen, grace: float) -> int:
    """Keep the engine until it ends, the launcher goes (attached) or a stop signal comes."""
    pgid = engine.pid
    selector = selectors.DefaultSelector()
    selector.register(sys.stdin, selectors.EVENT_READ)
    attached = True
    while True:
        if _STOP:
            stop_group(pgid, grace)
            return 128 + _STOP[0]
        if engine.poll() is not None:
            stop_group(pgid, 1.0)  # the leader is gone; make sure its children go too
            return engine.returncode
        if not attached:
            time.sleep(0.2)
            continue
        for _key, _mask in selector.select(timeout=0.2):
            line = sys.stdin.readline()
            if not line or line.strip() == "stop":  # launcher gone, or asked to stop
                stop_group(pgid, grace)
                return 0
            if line.strip() == "detach":
                attached = False
                selector.unregister(sys.stdin)


def main(argv: list[str]) -> int:
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _note_stop)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    spec_text, sep, *command = argv
    if sep != "--" or not command:
        print("usage: python -m servelab.supervisor SPEC_JSON -- ARGV...", file=sys.stderr)
        return 2
    spec = json.loads(spec_text)
    record_path = Path(spec["record"])
    record = {
        **{key: spec[key] for key in ("launch", "name", "url", "log")},
        "keeper_pid": os.getpid(),
        "keeper_start": start_time(os.getpid()),
        "launcher_pid": os.getppid(),
        "launcher_start": start_time(os.getppid()),
        "engine_pid": None,
        "engine_start": None,
    }
    write_record(record_path, record)
    try:
        engine = None if _STOP else _start_engine(spec, command)
        if engine is None:
            _tell("exec-failed")
            return 127
        record.update(engine_pid=engine.pid, engine_start=start_time(engine.pid))
        write_record(record_path, record)
        if not _tell(f"pid {engine.pid}"):
            _log(spec, f"the launcher is gone; stopping engine pid {engine.pid}")
            stop_group(engine.pid, float(spec["grace"]))
            return 0
        return _watch(engine, float(spec["grace"]))
    finally:
        record_path.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
