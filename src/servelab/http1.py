"""HTTP/1.1 responses parsed on an asyncio protocol, for many concurrent event streams.

``Connection`` decodes the response head and a chunked, sized or until-close body inside the
protocol callback, stamping each network read on arrival (``time.perf_counter()``). ``Body``
hands the reads to its consumer: as ``Received`` pieces, or to a sink called from the callback
itself (``deliver``), so the consumer's task wakes once per response, not once per read.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

_MAX_HEAD = 64 * 1024
_clock = time.perf_counter

Sink = Callable[[bytes, float], bool]  # (body bytes of one read, its arrival time) → go on?


class Received(bytes):
    """Body bytes of one network read, with ``received_at`` (time.perf_counter()) of the read,
    and the connection's ``read_at``, ``floor``, ``clean`` and ``kernel`` for it."""

    received_at: float
    read_at: float
    floor: float | None
    clean: bool
    kernel: bool


class Connection(asyncio.Protocol):
    """One TCP connection: parses a response head and its body as bytes arrive."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.head: asyncio.Future | None = None
        self.parts: deque[bytes] = deque()
        self.waiter: asyncio.Future | None = None
        self.framing = ""  # "chunked", "length" or "close"
        self.remaining = 0  # bytes left in the current chunk / the body
        self.crlf_due = False
        self.done = False
        self.reusable = False
        self.error: Exception | None = None
        self.received_at = 0.0  # the current read's stamp: kernel receive time, else the loop's
        self.read_at = 0.0  # the loop's clock when it took the current read
        self.floor: float | None = None  # its bytes reached the socket after this (None: unknown)
        self.next_floor: float | None = None  # the next read's floor
        self.clean = False  # the current read's bytes were all handed on (no later bytes)
        self.kernel = False  # received_at is the kernel's receive time, not the loop's clock
        self.received_any = False  # any byte of the current response
        self.sink: Sink | None = None  # set: reads go to it from data_received
        self.stopped = False  # the sink asked to stop
        self.timer: asyncio.TimerHandle | None = None

    # --- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received_at = self.read_at = _clock()
        self.floor, self.kernel = None, False
        self._take(data)

    def stamped_read(
        self, data: bytes, at: float | None, read_start: float | None, read_at: float
    ) -> None:
        """A read with the kernel's receive time ``at`` (servelab.stamped_socket; None: the
        kernel gave none, the loop's clock stands in)."""
        floor = self.floor = self.next_floor
        if read_start is not None:  # None: the read left bytes behind, which came after floor
            self.next_floor = read_start
        self.kernel = at is not None
        if at is None:
            at = read_at
        self.received_at = at if floor is None or at > floor else floor
        self.read_at = read_at
        self._take(data)

    def _take(self, data: bytes) -> None:
        self.received_any = True
        self.buffer += data
        if self.head is not None and not self.head.done():
            self._parse_head()
        elif self.framing:
            self._parse_body()

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        if self.head is not None and not self.head.done():
            self.head.set_exception(
                httpx.RemoteProtocolError("server disconnected without sending a response")
            )
        elif self.framing == "close" and not self.done:
            self.done = True
        elif self.framing and not self.done:
            self.error = httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body"
            )
        self._wake()

    # --- parsing --------------------------------------------------------------------------
    def start(self, head: asyncio.Future, sent_at: float) -> None:
        """Expect a response to a request sent at ``sent_at`` (none of it arrived before)."""
        self.head, self.parts, self.framing = head, deque(), ""
        self.next_floor = sent_at
        self.done = self.crlf_due = False
        self.remaining, self.error, self.received_any = 0, None, False
        self.sink, self.stopped = None, False

    def _parse_head(self) -> None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > _MAX_HEAD:
                self.head.set_exception(httpx.RemoteProtocolError("response head too large"))
            return
        lines = bytes(self.buffer[:end]).split(b"\r\n")
        del self.buffer[: end + 4]
        try:
            version, status, *reason = lines[0].split(b" ", 2)
            headers = [tuple(part.strip() for part in line.split(b":", 1)) for line in lines[1:]]
            status_code = int(status)
        except ValueError:
            self.head.set_exception(httpx.RemoteProtocolError(f"bad status line {lines[0]!r}"))
            return
        fields = {name.lower(): value for name, value in headers}
        keep_alive = version == b"HTTP/1.1" and fields.get(b"connection", b"").lower() != b"close"
        if b"chunked" in fields.get(b"transfer-encoding", b"").lower():
            self.framing = "chunked"
        elif b"content-length" in fields or status_code in (204, 304):
            self.framing, self.remaining = "length", int(fields.get(b"content-length", 0))
        else:
            self.framing, keep_alive = "close", False
        self.reusable = keep_alive
        self.head.set_result((status_code, reason[0] if reason else b"", headers))
        self._parse_body()

    def _parse_body(self) -> None:
        if self.framing == "chunked":
            self._parse_chunked()
        elif self.buffer:
            # the buffer keeps only bytes not handed on, before the consumer sees the read
            if self.framing == "length":
                take = min(self.remaining, len(self.buffer))
                data = bytes(self.buffer[:take])
                del self.buffer[:take]
                self.remaining -= take
            else:
                data = bytes(self.buffer)
                self.buffer.clear()
            self.clean = not self.buffer
            self._add(data)
        if self.framing == "length" and self.remaining == 0:
            self.done = True
        if self.sink is None or self.done or self.error is not None or self.stopped:
            self._wake()

    def _parse_chunked(self) -> None:
        buffer, position, pieces = self.buffer, 0, []
        size_of = len(buffer)
        while not self.done:
            if self.remaining:  # the rest of a chunk split across reads
                take = min(self.remaining, size_of - position)
                if not take:
                    break
                pieces.append(buffer[position : position + take])
                position += take
                self.remaining -= take
                self.crlf_due = self.remaining == 0
            elif self.crlf_due:
                if size_of - position < 2:
                    break
                position += 2
                self.crlf_due = False
            else:
                line_end = buffer.find(b"\r\n", position)
                if line_end < 0:
                    break
                try:
                    size = int(buffer[position:line_end].split(b";", 1)[0], 16)
                except ValueError:
                    self.error = httpx.RemoteProtocolError("malformed chunk size line")
                    self.reusable = False
                    break
                if not size:
                    end = buffer.find(b"\r\n\r\n", line_end)  # last chunk, trailers, blank
                    if end < 0:
                        break  # parse the last-chunk line again when the rest has arrived
                    position, self.done = end + 4, True
                    break
                start = line_end + 2
                end = start + size
                if end + 2 <= size_of:  # the whole chunk and its CRLF: one step (common case)
                    pieces.append(buffer[start:end])
                    position = end + 2
                else:
                    position, self.remaining = start, size
        del buffer[:position]
        self.clean = not buffer  # else the read brought bytes of a later chunk too
        if pieces:
            self._add(b"".join(pieces))

    def _add(self, data: bytes | bytearray) -> None:
        sink = self.sink
        if sink is not None:
            if not self.stopped and not sink(bytes(data), self.received_at):
                self.stopped = True
            return
        part = Received(data)
        part.received_at, part.read_at, part.floor = self.received_at, self.read_at, self.floor
        part.clean, part.kernel = self.clean, self.kernel
        self.parts.append(part)

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    # --- consumer side --------------------------------------------------------------------
    async def wait(self, timeout: float | None) -> None:
        """Until the next wake; ReadTimeout after ``timeout`` s without a byte received."""
        loop = asyncio.get_running_loop()
        self.waiter = loop.create_future()
        self.timer = None
        if timeout is not None:
            since = _clock()
            self.timer = loop.call_later(timeout, self._check_silence, timeout, since)
        try:
            await self.waiter
        finally:
            self.waiter = None
            if self.timer is not None:
                self.timer.cancel()

    def _check_silence(self, timeout: float, since: float) -> None:
        """The read timeout is a silence: re-arm while bytes keep arriving (one timer a wait)."""
        if self.waiter is None or self.waiter.done():
            return
        silent = _clock() - max(since, self.received_at)
        if silent >= timeout:
            expire(self.waiter, timeout)
        else:
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(timeout - silent, self._check_silence, timeout, since)

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()


def expire(waiter: asyncio.Future, timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(httpx.ReadTimeout(f"no data for {timeout:g} s"))


class Body(httpx.AsyncByteStream):
    """The response body: one ``Received`` per network read (chunk framing removed)."""

    def __init__(
        self, connection: Connection, pool: Any, key: tuple, timeout: float | None
    ) -> None:
        self.connection, self.pool, self.key, self.timeout = connection, pool, key, timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self.connection
        while True:
            if connection.parts:
                yield connection.parts.popleft()
                continue
            if connection.error is not None:
                raise connection.error
            if connection.done:
                return
            await connection.wait(self.timeout)

    async def deliver(self, sink: Sink) -> None:
        """Hand every read to ``sink`` (from the protocol callback) until the body ends or the
        sink returns False; raises what the connection raised (ReadTimeout after a silence)."""
        connection = self.connection
        if connection.parts:  # reads queued before: the sink sees each as it was then
            current = connection.read_at, connection.floor, connection.clean, connection.kernel
            while connection.parts:
                part = connection.parts.popleft()
                connection.read_at, connection.floor = part.read_at, part.floor
                connection.clean, connection.kernel = part.clean, part.kernel
                if not sink(bytes(part), part.received_at):
                    connection.stopped = True
                    break
            connection.read_at, connection.floor, connection.clean, connection.kernel = current
            if connection.stopped:
                return
        connection.sink = sink
        try:
            while not (connection.done or connection.stopped) and connection.error is None:
                await connection.wait(self.timeout)
        finally:
            connection.sink = None
        if connection.error is not None and not connection.stopped:
            raise connection.error

    async def read_all(self) -> bytes:
        """The whole body (an error answer, say)."""
        parts: list[bytes] = []
        await self.deliver(lambda data, _: parts.append(data) is None)
        return b"".join(parts)

    async def aclose(self) -> None:
        connection = self.connection
        if connection.done and connection.reusable and not connection.buffer:
            self.pool.release(self.key, connection)
        else:
            connection.close()
