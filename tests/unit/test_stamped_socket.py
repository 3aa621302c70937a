"""Reads stamped by the kernel: when the bytes reached the socket, not when the loop read them."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from servelab import rx_stamps
from servelab.client import stream_client, stream_run
from servelab.stamped_socket import open_stamped
from tests.fakes.fault_server import FaultServer

pytestmark = pytest.mark.skipif(not rx_stamps.supported(), reason="receive times are Linux's")


class Recorder:
    """A protocol that keeps every read and whether the connection was lost."""

    def __init__(self) -> None:
        self.reads: list[tuple[bytes, float, float | None, float]] = []
        self.lost: list[Exception | None] = []
        self.transport = None
        self.got = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def stamped_read(self, data, at, read_start, read_at) -> None:
        self.reads.append((data, at, read_start, read_at))
        if not self.got.done():
            self.got.set_result(None)

    def connection_lost(self, exc) -> None:
        self.lost.append(exc)


@pytest.fixture
def listener():
    server = socket.create_server(("127.0.0.1", 0))
    yield server
    server.close()


def test_a_read_carries_the_time_its_bytes_arrived_however_late_the_loop_reads(listener):
    async def go():
        protocol = await open_stamped("127.0.0.1", listener.getsockname()[1], Recorder)
        peer, _ = listener.accept()
        # The kernel switches receive times on a moment after the first socket asks (deferred
        # work): until then reads come without one (at None) and the loop's clock stands in.
        for _ in range(100):
            peer.sendall(b"ping")
            await protocol.got
            if protocol.reads[-1][1] is not None:
                break
            protocol.got = asyncio.get_running_loop().create_future()
            await asyncio.sleep(0.01)
        protocol.got = asyncio.get_running_loop().create_future()
        peer.sendall(b"token")
        sent = time.perf_counter()
        time.sleep(0.3)  # the loop is busy: the bytes wait in the socket
        await protocol.got
        peer.close()
        return sent, protocol.reads[-1]

    sent, (data, at, read_start, read_at) = asyncio.run(go())
    assert data == b"token"
    assert read_at - sent >= 0.3  # the loop got to it late …
    assert abs(at - sent) < 0.02  # … and the stamp is still the arrival
    assert read_start is not None and at <= read_start <= read_at


def test_a_write_larger_than_the_socket_takes_arrives_whole_and_in_order(listener):
    payload = bytes(range(256)) * (64 * 1024)  # 16 MiB: partial sends, then the writer waits
    received = bytearray()

    def drain(peer: socket.socket) -> None:
        time.sleep(0.2)  # let the client's send buffer fill first
        while len(received) < len(payload):
            chunk = peer.recv(1 << 20)
            if not chunk:
                break
            received.extend(chunk)
        peer.close()

    async def go():
        protocol = await open_stamped("127.0.0.1", listener.getsockname()[1], Recorder)
        peer, _ = listener.accept()
        reader = threading.Thread(target=drain, args=(peer,))
        reader.start()
        protocol.transport.write(payload)
        assert protocol.transport.pending  # the socket did not take it all at once
        while reader.is_alive():
            await asyncio.sleep(0.01)
        reader.join()
        await asyncio.sleep(0.05)  # the peer's close is seen
        return protocol

    protocol = asyncio.run(go())
    assert bytes(received) == payload
    assert protocol.lost == [None] and protocol.transport.is_closing()


def test_nothing_listening_is_an_os_error():
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(OSError):
        asyncio.run(open_stamped("127.0.0.1", port, Recorder))


def _one_streamed_run():
    """One 20-token run through the client against a fault-free fake server."""
    with FaultServer("normal", tokens=20) as server:

        async def go():
            async with stream_client(10) as client:
                return await stream_run(client, server.url, {"max_tokens": 20}, timeout_s=10)

        record = asyncio.run(go())
    assert record.ok and record.output_tokens == 20
    return record


def test_where_the_kernel_refuses_receive_times_the_client_reads_on_a_plain_transport(
    monkeypatch,
):
    monkeypatch.setattr(rx_stamps, "enable", lambda sock: False)
    held_first, window_first, held_last, window_last = _one_streamed_run().stamp_slack
    assert window_first is None and window_last is None  # no kernel stamps: no windows


def test_a_streamed_run_on_stamped_reads_knows_each_stamps_window():
    record = _one_streamed_run()
    held_first, window_first, held_last, window_last = record.stamp_slack
    assert held_first >= 0 and held_last >= 0
    assert window_first is not None and 0 <= window_first <= record.ttft_s
    assert window_last is not None and 0 <= window_last <= record.duration_s
