"""A plain TCP connection whose every read carries the kernel's receive time (rx_stamps.py).

asyncio's transports read with ``recv`` and drop that time, so this one reads through the
loop's ``add_reader`` with ``recvmsg``. Its protocol gets ``stamped_read(data, at,
read_start, read_at)``: ``at`` is when the newest of the bytes reached the socket (None if no
stamp came), ``read_start`` the clock just before the ``recvmsg`` (bytes of a later
read reached the socket after it; None when the read was full and may have left some behind)
and ``read_at`` the clock after it. Writes go out at once and the rest, if the socket is full,
when it drains. Only what ``servelab.http1.Connection`` uses.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from typing import Any, Protocol

from servelab import rx_stamps

MAX_READ = 256 * 1024
_clock = time.perf_counter


class StampedProtocol(Protocol):
    def connection_made(self, transport: Any) -> None: ...
    def connection_lost(self, exc: Exception | None) -> None: ...
    def stamped_read(
        self, data: bytes, at: float | None, read_start: float | None, read_at: float
    ) -> None: ...


class StampedSocket:
    """The transport side: one connected, non-blocking socket on the running loop."""

    def __init__(self, sock: socket.socket, protocol: StampedProtocol) -> None:
        self.loop = asyncio.get_running_loop()
        self.sock, self.protocol = sock, protocol
        self.fd = sock.fileno()
        self.pending = bytearray()  # written but not yet taken by the socket
        self.closing = False
        self.offset = rx_stamps.clock_offset()
        protocol.connection_made(self)
        self.loop.add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        read_start = _clock()
        try:
            data, ancillary, _, _ = self.sock.recvmsg(MAX_READ, rx_stamps.ANCILLARY_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lose(exc)
            return
        if not data:  # the server closed its side
            self._lose(None)
            return
        read_at = _clock()
        at = rx_stamps.received_at(ancillary, self.offset)
        if at is not None and at > read_at:  # a clock step cannot put it after the read
            at = read_at
        # a full read may have left bytes behind: they reached the socket before read_start
        self.protocol.stamped_read(data, at, read_start if len(data) < MAX_READ else None, read_at)

    def write(self, data: bytes) -> None:
        if self.closing:
            return
        if not self.pending:
            try:
                sent = self.sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._lose(exc)
                return
            if sent == len(data):
                return
            data = data[sent:]
            self.loop.add_writer(self.fd, self._writable)
        self.pending += data

    def _writable(self) -> None:
        try:
            sent = self.sock.send(self.pending)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lose(exc)
            return
        del self.pending[:sent]
        if not self.pending:
            self.loop.remove_writer(self.fd)

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "socket":
            return self.sock
        if name == "peername":
            try:
                return self.sock.getpeername()
            except OSError:
                return default
        return default

    def close(self) -> None:
        self._lose(None)

    def _lose(self, exc: Exception | None) -> None:
        if self.closing:
            return
        self.closing = True
        self.loop.remove_reader(self.fd)
        self.loop.remove_writer(self.fd)
        self.sock.close()
        self.loop.call_soon(self.protocol.connection_lost, exc)


async def open_stamped(
    host: str, port: int, protocol_factory: Callable[[], StampedProtocol]
) -> StampedProtocol | None:
    """Connect to ``host:port`` with receive times on; the protocol, or None when the kernel
    gives no receive times (then use a plain transport). OSError when no address connects."""
    loop = asyncio.get_running_loop()
    failure: OSError | None = None
    for family, kind, proto, _, address in await loop.getaddrinfo(
        host, port, type=socket.SOCK_STREAM
    ):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            if not rx_stamps.enable(sock):
                sock.close()
                return None
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            failure = exc
            continue
        except BaseException:
            sock.close()
            raise
        protocol = protocol_factory()
        StampedSocket(sock, protocol)
        return protocol
    raise failure or OSError(f"no address for {host}:{port}")
