"""The lean HTTP/1.1 transport: chunked bodies split anywhere, trailers, keep-alive, EOF."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from servelab.client import stream_client, stream_run
from servelab.http1 import Connection, Received
from servelab.transport import StreamTransport
from tests.fakes.fault_server import FaultServer

RESPONSE = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n"
    b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n"
)


def deliver(pieces: list[bytes]) -> tuple[tuple, bytes, Connection]:
    async def go():
        connection = Connection()
        head = asyncio.get_running_loop().create_future()
        connection.start(head, 0.0)
        for piece in pieces:
            connection.data_received(piece)
        return head.result(), b"".join(connection.parts), connection

    return asyncio.run(go())


@pytest.mark.parametrize("step", [1, 2, 3, 7, len(RESPONSE)])
def test_chunked_body_survives_any_split(step):
    pieces = [RESPONSE[i : i + step] for i in range(0, len(RESPONSE), step)]
    (status, reason, headers), body, connection = deliver(pieces)
    assert (status, reason) == (200, b"OK")
    assert (b"Content-Type", b"text/event-stream") in headers
    assert body == b"hello, world"
    assert connection.done and connection.reusable and not connection.buffer


def test_parts_carry_the_time_of_their_read():
    _, _, connection = deliver([RESPONSE])
    assert all(isinstance(part, Received) and part.received_at > 0 for part in connection.parts)


def test_content_length_and_close_framing():
    head, body, connection = deliver([b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope"])
    assert head[0] == 404 and body == b"nope" and connection.done
    head, body, connection = deliver([b"HTTP/1.0 200 OK\r\n\r\nuntil ", b"close"])
    assert body == b"until close" and not connection.done and not connection.reusable
    connection.connection_lost(None)
    assert connection.done and connection.error is None


def test_eof_inside_a_chunked_body_is_a_protocol_error():
    _, _, connection = deliver([RESPONSE[:80]])
    connection.connection_lost(None)
    assert isinstance(connection.error, httpx.RemoteProtocolError)


def test_keep_alive_reuses_one_connection_for_sequential_requests():
    async def go(url):
        transport = StreamTransport()
        async with httpx.AsyncClient(transport=transport, timeout=5) as client:
            answers = []
            for _ in range(3):
                response = await client.post(
                    url + "/v1/chat/completions", json={"max_tokens": 2, "stream": False}
                )
                answers.append(response.json()["usage"]["completion_tokens"])
            idle = [c for conns in transport.idle.values() for c in conns]
            return answers, len(idle)

    with FaultServer() as server:
        answers, idle = asyncio.run(go(server.url))
    assert answers == [2, 2, 2] and idle == 1


def test_a_connection_the_server_closed_after_a_stream_is_replaced():
    async def go(url):
        async with stream_client(5) as client:
            payload = {"max_tokens": 5}
            return [await stream_run(client, url, payload, timeout_s=5) for _ in range(3)]

    with FaultServer(rate=5000.0, close_after_stream=True) as server:
        runs = asyncio.run(go(server.url))
    assert [(run.ok, run.output_tokens) for run in runs] == [(True, 5)] * 3


def test_a_run_through_httpx_on_the_lean_transport_equals_the_direct_post():
    """stream_client posts directly; any httpx client on the transport reaches the same body."""

    async def go(url, make):
        async with make() as client:
            return await stream_run(client, url, {"max_tokens": 400}, timeout_s=5)

    # 400 tokens (0.2 s): one token read a step late moves the figure 0.25 %, not 2.5 %
    with FaultServer(rate=2000.0) as server:
        direct = asyncio.run(go(server.url, lambda: stream_client(5)))
        plain = lambda: httpx.AsyncClient(transport=StreamTransport())  # noqa: E731
        through = asyncio.run(go(server.url, plain))
    assert (direct.ok, direct.output_tokens, direct.chunks) == (True, 400, 400)
    assert (through.ok, through.output_tokens, through.chunks) == (True, 400, 400)
    assert direct.decode_tps == pytest.approx(through.decode_tps, rel=0.05)


def test_a_read_without_the_kernels_time_is_stamped_by_the_loop_and_never_called_exact():
    async def go():
        connection = Connection()
        connection.start(asyncio.get_running_loop().create_future(), 0.5)
        connection.stamped_read(RESPONSE[:10], None, 1.0, 2.0)  # no receive time came
        first = (connection.received_at, connection.kernel, connection.floor)
        connection.stamped_read(RESPONSE[10:20], 2.5, 2.6, 3.0)
        return first, (connection.received_at, connection.kernel, connection.floor)

    first, second = asyncio.run(go())
    assert first == (2.0, False, 0.5)  # the loop's clock; the bytes came after the send
    assert second == (2.5, True, 1.0)  # the kernel's; they came after the previous recvmsg
