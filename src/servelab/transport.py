"""A lean HTTP/1.1 transport for httpx, for many concurrent event streams on few cores.

httpx's default transport parses every HTTP chunk through several layers, which costs tens of
µs per streamed token. This one parses responses inside the asyncio protocol callback
(``servelab.http1``): a consumer gets everything that arrived in one network read as one
piece, or, through ``Body.deliver(sink)`` (``Response.extensions["servelab.body"]``), has
``sink(data, received_at)`` called from the callback itself, so its task wakes once per
response, not once per read. ``post`` skips httpx's request and response objects altogether
(what lets one core absorb a few hundred thousand streamed tokens a second). Plain HTTP
connections read through ``servelab.stamped_socket`` where the kernel gives receive times
(Linux), so a read is stamped when its bytes arrived, not when the loop got to them. HTTP/1.1
(and TLS), keeps connections alive per host, and raises httpx's own exceptions (ConnectError,
ConnectTimeout, ReadTimeout, RemoteProtocolError). No proxies, no HTTP/2.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time

import httpx

from servelab import rx_stamps
from servelab.http1 import Body, Connection, Received, Sink, expire
from servelab.stamped_socket import open_stamped

__all__ = ["BODY", "Body", "Received", "Sink", "StreamTransport"]

BODY = "servelab.body"  # Response.extensions key of the body, for ``Body.deliver``


@functools.lru_cache(maxsize=64)
def _target(url: str) -> tuple[tuple, bytes, bytes]:
    """(connection key, request target, Host header value) of a URL, parsed once."""
    parts = httpx.URL(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.host if parts.port is None else f"{parts.host}:{parts.port}"
    return (parts.scheme, parts.host, port), parts.raw_path, host.encode()


class StreamTransport(httpx.AsyncBaseTransport):
    """``httpx.AsyncClient(transport=StreamTransport())``: keep-alive HTTP/1.1, cheap reads."""

    def __init__(self, verify: bool | ssl.SSLContext = True) -> None:
        self.idle: dict[tuple, list[Connection]] = {}
        self.verify = verify
        self._ssl_context: ssl.SSLContext | None = None

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """Built on first https use (loading the CA store costs tens of ms)."""
        if self._ssl_context is None:
            if isinstance(self.verify, ssl.SSLContext):
                self._ssl_context = self.verify
            else:
                self._ssl_context = ssl.create_default_context()
                if not self.verify:
                    self._ssl_context.check_hostname = False
                    self._ssl_context.verify_mode = ssl.CERT_NONE
        return self._ssl_context

    def release(self, key: tuple, connection: Connection) -> None:
        self.idle.setdefault(key, []).append(connection)

    def _idle_connection(self, key: tuple) -> Connection | None:
        idle = self.idle.get(key)
        while idle:
            connection = idle.pop()
            if connection.transport is not None and not connection.transport.is_closing():
                return connection
        return None

    async def _new_connection(self, key: tuple, timeout: float | None) -> Connection:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        try:
            connection = None
            if scheme == "http" and rx_stamps.supported():
                connection = await asyncio.wait_for(open_stamped(host, port, Connection), timeout)
            if connection is None:
                _, connection = await asyncio.wait_for(
                    loop.create_connection(
                        Connection,
                        host,
                        port,
                        ssl=self.ssl_context if scheme == "https" else None,
                    ),
                    timeout,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from None
        return connection

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        key = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        body = await request.aread()
        head = [b"%s %s HTTP/1.1\r\n" % (request.method.encode(), url.raw_path)]
        head += [b"%s: %s\r\n" % (name, value) for name, value in request.headers.raw]
        message = b"".join(head) + b"\r\n" + body
        status, reason, headers, stream = await self._send(
            key, message, timeouts.get("connect"), timeouts.get("read")
        )
        return httpx.Response(
            status,
            headers=headers,
            stream=stream,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason, BODY: stream},
        )

    async def post(
        self, url: str, body: bytes, headers: dict[str, str], timeout: float | None
    ) -> tuple[int, Body]:
        """POST ``body`` to ``url`` without building httpx's request and response objects (a
        few hundred µs a request on a slow core): (status, body). httpx's own exceptions."""
        key, target, host = _target(url)
        head = [
            b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n" % (target, host, len(body))
        ]
        head += [b"%s: %s\r\n" % (name.encode(), value.encode()) for name, value in headers.items()]
        message = b"".join(head) + b"\r\n" + body
        status, _, _, stream = await self._send(key, message, timeout, timeout)
        return status, stream

    async def _send(
        self, key: tuple, message: bytes, connect_timeout: float | None, read_timeout: float | None
    ) -> tuple[int, bytes, list, Body]:
        connection = self._idle_connection(key)
        if connection is not None:
            try:
                return await self._exchange(connection, key, message, read_timeout)
            except httpx.RemoteProtocolError:
                # A kept-alive connection the server had already closed (some servers close
                # after a streamed response despite keep-alive): nothing was answered, so
                # send once more on a fresh connection.
                if connection.received_any:
                    raise
        connection = await self._new_connection(key, connect_timeout)
        return await self._exchange(connection, key, message, read_timeout)

    async def _exchange(
        self, connection: Connection, key: tuple, message: bytes, read_timeout: float | None
    ) -> tuple[int, bytes, list, Body]:
        """Send one request on ``connection`` and wait for the response head."""
        loop = asyncio.get_running_loop()
        response_head = loop.create_future()
        connection.start(response_head, time.perf_counter())
        connection.buffer.clear()
        connection.transport.write(message)
        timer = (
            loop.call_later(read_timeout, expire, response_head, read_timeout)
            if read_timeout is not None
            else None
        )
        try:
            status, reason, headers = await response_head
        except BaseException:
            connection.close()
            raise
        finally:
            if timer is not None:
                timer.cancel()
        return status, reason, headers, Body(connection, self, key, read_timeout)

    async def aclose(self) -> None:
        for connections in self.idle.values():
            for connection in connections:
                connection.close()
        self.idle.clear()
