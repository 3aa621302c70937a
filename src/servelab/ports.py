"""Who holds a TCP port: refuse to start on a taken one, and tell our listener from another.

Linux answers through /proc (``/proc/net/tcp{,6}`` lists listening sockets by inode,
``/proc/PID/fd`` says which process holds an inode); elsewhere only the bind test works and
``owners`` answers None (unknown).
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

from servelab.engines.base import PORT_IN_USE, Diagnosis
from servelab.errors import EngineFailed

_LISTEN = "0A"


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def url_host(host: str) -> str:
    """A host as it goes into a URL (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host else host


def ensure_port_free(host: str, port: int) -> None:
    """Refuse (exit 3, one line naming the holder) to start on a port something else holds."""
    error = bind_error(host, port)
    if error is None:
        return
    if error.errno == errno.EADDRINUSE:
        message = (
            f"port {port} on {host} is already in use by {describe_holder(port)}; nothing was "
            "started: stop it or pick another --port"
        )
        raise EngineFailed(message, Diagnosis(PORT_IN_USE, message))
    raise EngineFailed(f"cannot listen on {host}:{port}: {error.strerror or error}")


def bind_error(host: str, port: int) -> OSError | None:
    """The error binding ``host:port`` now gives (None: free). SO_REUSEADDR as servers set it,
    so a port in TIME_WAIT counts as free, a listening one as taken."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        return OSError(errno.EADDRNOTAVAIL, f"cannot resolve {host}: {exc}")
    family, _type, _proto, _name, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            return exc
    return None


def _listening_inodes(port: int) -> set[str] | None:
    found: set[str] = set()
    readable = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            parts = line.split()
            if (
                len(parts) > 9
                and parts[3] == _LISTEN
                and int(parts[1].rsplit(":", 1)[1], 16) == port
            ):
                found.add(parts[9])
    return found if readable else None


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def owners(port: int, candidates: list[int] | None = None) -> list[int] | None:
    """Pids (among ``candidates``, else every process we may inspect) holding a listening
    socket on ``port``; None when this system cannot tell."""
    inodes = _listening_inodes(port)
    if inodes is None:
        return None
    if not inodes:
        return []
    if candidates is None:
        candidates = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    return [pid for pid in candidates if _socket_inodes(pid) & inodes]


def describe_holder(port: int) -> str:
    """'pid 123 (python3 -m http.server 8080)', or why the holder is not known."""
    pids = owners(port)
    if pids is None:
        return "a process this system does not name"
    if not pids:
        return "a process of another user (or another network namespace)"
    pid = min(pids)
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        command = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    except OSError:
        command = "?"
    shown = command if len(command) <= 120 else command[:117] + "…"
    return f"pid {pid} ({shown})"
