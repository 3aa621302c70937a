"""A small keeper process between servelab and an engine, so no engine is ever orphaned.

It starts the engine in a new process group, then watches its own stdin (a pipe from the
servelab process that started it). While attached, end-of-file on that pipe means servelab
died (crash, SIGKILL, Ctrl-C): the keeper kills the engine's whole group. After ``detach``
(``servelab up`` once the engine is ready) it only keeps the engine and reaps it; SIGTERM to the
keeper (``servelab down``) stops the group: SIGTERM, then SIGKILL after a grace period.

Run as ``python -m servelab.supervisor LOGFILE GRACE -- ARGV...``.
"""

from __future__ import annotations

import selectors
import signal
import subprocess
import sys
import time

from servelab.procgroup import stop_group


def main(argv: list[str]) -> int:
    log_path, grace_text, sep, *command = argv
    if sep != "--" or not command:
        print("usage: python -m servelab.supervisor LOG GRACE -- ARGV...", file=sys.stderr)
        return 2
    grace = float(grace_text)
    with open(log_path, "ab", buffering=0) as log:
        try:
            engine = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            log.write(f"servelab: cannot start engine: {exc}\n".encode())
            print("exec-failed", flush=True)
            return 127
    pgid = engine.pid
    print(f"pid {pgid}", flush=True)

    def _terminate(signum: int, frame: object) -> None:
        stop_group(pgid, grace)
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    signal.signal(signal.SIGHUP, _terminate)

    selector = selectors.DefaultSelector()
    selector.register(sys.stdin, selectors.EVENT_READ)
    attached = True
    while True:
        if engine.poll() is not None:
            # The engine leader is gone; make sure its children go too.
            stop_group(pgid, 1.0)
            return engine.returncode
        if attached:
            for _key, _mask in selector.select(timeout=0.2):
                line = sys.stdin.readline()
                if not line:  # servelab went away while still attached
                    stop_group(pgid, grace)
                    return 0
                if line.strip() == "detach":
                    attached = False
                    selector.unregister(sys.stdin)
                elif line.strip() == "stop":
                    stop_group(pgid, grace)
                    return 0
        else:
            time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
