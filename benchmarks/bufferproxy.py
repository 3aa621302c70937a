"""A reverse proxy that buffers every response and writes it in one piece (a proxy with
response buffering on): the burst that benchmarks/validity_rate.py injects in front of a real
engine. Plain HTTP/1.1, one upstream connection per client connection, a thread of its own.

    with BufferingProxy("127.0.0.1", 8080) as proxy: proxy.url
"""

from __future__ import annotations

import asyncio
import threading

_HEAD_END = b"\r\n\r\n"
_LAST_CHUNK = b"0\r\n\r\n"


def _complete(buffer: bytes) -> int:
    """The length of the first complete response in ``buffer`` (0 while incomplete)."""
    head_end = buffer.find(_HEAD_END)
    if head_end < 0:
        return 0
    head = buffer[:head_end].lower()
    body_start = head_end + len(_HEAD_END)
    if b"transfer-encoding: chunked" in head:
        end = buffer.find(b"\r\n" + _LAST_CHUNK, body_start - 2)
        return end + 2 + len(_LAST_CHUNK) if end >= 0 else 0
    for line in head.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            total = body_start + int(line.split(b":", 1)[1])
            return total if len(buffer) >= total else 0
    return 0  # read until close


class BufferingProxy:
    """Forwards requests at once; holds each response until it is complete, then writes it."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> BufferingProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        forward = asyncio.ensure_future(self._forward(reader, up_writer))
        buffer = b""
        try:
            while data := await up_reader.read(65536):
                buffer += data
                while (end := _complete(buffer)) > 0:
                    writer.write(buffer[:end])  # the whole response in one write
                    await writer.drain()
                    buffer = buffer[end:]
            if buffer:
                writer.write(buffer)
                await writer.drain()
        finally:
            forward.cancel()
            writer.close()
            up_writer.close()

    @staticmethod
    async def _forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()
