"""Process groups: is one alive, stop one (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import os
import signal
import time

GRACE_DEFAULT = 10.0
# In every engine servelab starts: "STATE_DIR|LAUNCH_ID|NAME" (how `status` finds a stale one).
LAUNCH_ENV = "SERVELAB_LAUNCH"


def group_alive(pgid: int) -> bool:
    """Whether any process of a process group still exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(pgid: int, grace: float = GRACE_DEFAULT) -> None:
    """SIGTERM the whole group, then SIGKILL whatever is left after ``grace`` seconds."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap()
        if not group_alive(pgid):
            return
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while group_alive(pgid) and time.monotonic() < deadline:
        _reap()
        time.sleep(0.05)


def _reap() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def start_time(pid: int) -> str | None:
    """The kernel's start time of a process (``/proc/PID/stat`` field 22): with the pid, an
    identity that survives pid reuse. None where there is no /proc or no such process."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 and fields[0] != "Z" else None


def process_alive(pid: int | None, started: str | None = None) -> bool:
    """Whether ``pid`` runs (not a zombie) and, when ``started`` is known, is the same process."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now = start_time(pid)
    if now is None:
        return not os.path.exists("/proc/self/stat")  # no /proc: trust kill(0)
    return started is None or now == started


def group_members(pgid: int) -> list[int]:
    """Pids in a process group (Linux /proc; [] elsewhere)."""
    members = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                text = handle.read()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            members.append(int(entry))
    return members
