"""The kernel's receive time of a socket read (Linux ``SO_TIMESTAMPNS``), on the clock of
``time.perf_counter()``.

With the option set, every ``recvmsg`` carries the time the kernel queued the newest bytes it
returns: when they reached the socket, however late the reading process got to them. A stamp
taken on the event loop instead includes the loop's own delay (a busy loop, a descheduled
process), which on a crowded client is most of the error of a streamed token's time.
"""

from __future__ import annotations

import socket
import struct
import sys
import time

# Linux's generic value (x86, ARM, RISC-V); where another value applies, no stamp ever comes
# back and every read falls back on the loop's clock.
SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@ll")  # struct timespec: seconds, nanoseconds (native longs)
ANCILLARY_SIZE = socket.CMSG_SPACE(_TIMESPEC.size) if hasattr(socket, "CMSG_SPACE") else 0


def supported() -> bool:
    """Whether this platform gives receive times (Linux with ``recvmsg``)."""
    return sys.platform.startswith("linux") and hasattr(socket.socket, "recvmsg")


def enable(sock: socket.socket) -> bool:
    """Ask the kernel for receive times on ``sock``; False when it refuses."""
    if not supported():
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def clock_offset() -> float:
    """time.time() − time.perf_counter(): the wall clock's lead over the monotonic one."""
    return time.time() - time.perf_counter()


def received_at(ancillary: list[tuple[int, int, bytes]], offset: float) -> float | None:
    """The receive time in a ``recvmsg`` answer's ancillary data, as a perf_counter() time
    (``offset`` from ``clock_offset``), or None when it holds none."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(data)
            return seconds + nanoseconds * 1e-9 - offset
    return None
