"""A zero-compute OpenAI-compatible streaming server that emits tokens on an exact schedule.

Each chat completion streams ``max_tokens`` tokens: the first after ``ttft`` seconds, then one
every ``1/rate`` seconds (``per_chunk`` tokens per SSE chunk), followed by a usage chunk and
``[DONE]``, in HTTP/1.1 chunked encoding like real engines. The server records when it really
wrote the first and the last token chunk of every request, so the true decode rate
``(tokens − 1) / (t_last_write − t_first_write)`` is known. ``GET /truth`` returns those records
and the server's own CPU time; ``POST /truth/reset`` clears them.

Cheap by construction: one event loop, one scheduler tick for all streams due (a heap of due
times: a tick touches only the streams that have a chunk due), chunk bytes built once per
request, one ``write`` per stream per tick.

Request fields (besides ``max_tokens``): ``"truth": {"rate": 250, "ttft": 0.01, "per_chunk": 1}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import itertools
import json
import math
import resource
import time

CLOCK = time.perf_counter  # CLOCK_MONOTONIC on Linux: comparable across processes
TERMINATOR = b"0\r\n\r\n"
NAP_S = 0.001


def frame(payload: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def sse(obj: dict | str) -> bytes:
    text = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return frame(b"data: " + text.encode() + b"\n\n")


def chunk_obj(request_id: str, delta: dict, finish: str | None = None) -> dict:
    return {
        "id": request_id,
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "truth",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


class Stream:
    """One response in flight: its schedule, its pre-built bytes and what was really sent."""

    __slots__ = (
        "transport",
        "id",
        "tokens",
        "rate",
        "per_chunk",
        "first_due",
        "chunks_total",
        "chunks_sent",
        "token_bytes",
        "last_token_bytes",
        "tail",
        "t_first",
        "t_last",
        "t_arrived",
    )

    def __init__(
        self, transport, request_id: str, tokens: int, rate: float, ttft: float, per_chunk: int
    ) -> None:
        self.transport = transport
        self.id = request_id
        self.tokens = tokens
        self.rate = rate
        self.per_chunk = per_chunk
        self.t_arrived = CLOCK()  # when the request was parsed
        self.first_due = self.t_arrived + ttft
        self.chunks_total = math.ceil(tokens / per_chunk)
        self.chunks_sent = 0
        self.token_bytes = sse(chunk_obj(request_id, {"content": " tok" * per_chunk}))
        remainder = tokens - (self.chunks_total - 1) * per_chunk
        self.last_token_bytes = sse(chunk_obj(request_id, {"content": " tok" * remainder}))
        usage = {"prompt_tokens": 1, "completion_tokens": tokens, "total_tokens": tokens + 1}
        self.tail = (
            sse(chunk_obj(request_id, {}, "length"))
            + sse({**chunk_obj(request_id, {}), "choices": [], "usage": usage})
            + sse("[DONE]")
            + TERMINATOR
        )
        self.t_first: float | None = None
        self.t_last: float | None = None

    def due(self, chunk: int) -> float:
        """When chunk ``chunk`` (0-based) is due: when its first token is 'generated'."""
        return self.first_due + chunk * self.per_chunk / self.rate

    def send_due(self, now: float) -> bool:
        """Write every chunk due by ``now`` in one write; True when the stream is finished."""
        # floor, not int(): before the first token is due nothing is (int() rounds −0.3 up to 0)
        due_count = min(
            self.chunks_total, math.floor((now - self.first_due) * self.rate / self.per_chunk) + 1
        )
        count = due_count - self.chunks_sent
        if count <= 0:
            return False
        finished = due_count == self.chunks_total
        if finished:
            data = self.token_bytes * (count - 1) + self.last_token_bytes + self.tail
        else:
            data = self.token_bytes * count
        self.transport.write(data)
        sent_at = CLOCK()
        if self.t_first is None:
            self.t_first = sent_at
        self.t_last = sent_at
        self.chunks_sent = due_count
        return finished


class TruthServer:
    """Shared state: streams in flight, the truth of finished ones, the scheduler."""

    def __init__(self, default_rate: float, default_ttft: float, default_per_chunk: int) -> None:
        self.defaults = (default_rate, default_ttft, default_per_chunk)
        self.active: list[tuple[float, int, Stream]] = []  # heap of (next due, serial, stream)
        self.order = itertools.count()
        self.truth: dict[str, dict] = {}
        self.serial = 0
        self.wake = asyncio.Event()

    def start_stream(self, transport, body: dict) -> None:
        rate, ttft, per_chunk = self.defaults
        options = body.get("truth") or {}
        self.serial += 1
        stream = Stream(
            transport,
            f"chatcmpl-truth-{self.serial}",
            int(body.get("max_tokens") or 256),
            float(options.get("rate", rate)),
            float(options.get("ttft", ttft)),
            int(options.get("per_chunk", per_chunk)),
        )
        transport.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
            + sse(chunk_obj(stream.id, {"role": "assistant", "content": ""}))
        )
        heapq.heappush(self.active, (stream.due(0), next(self.order), stream))
        self.wake.set()

    def finish(self, stream: Stream) -> None:
        span = (stream.t_last or 0) - (stream.t_first or 0)
        self.truth[stream.id] = {
            "tokens": stream.tokens,
            "rate": stream.rate,
            "per_chunk": stream.per_chunk,
            "t_arrived": stream.t_arrived,
            "t_first": stream.t_first,
            "t_last": stream.t_last,
            "decode_tps": (stream.tokens - 1) / span if span > 0 else None,
        }

    async def scheduler(self) -> None:
        """Every tick: write what is due on the streams due, then sleep until the next one."""
        active = self.active
        while True:
            if not active:
                self.wake.clear()
                await self.wake.wait()
                continue
            now = CLOCK()
            later = []  # pushed back after the tick: a due time rounded to ``now`` waits a tick
            while active and active[0][0] <= now:
                _, order, stream = heapq.heappop(active)
                if stream.transport.is_closing():
                    continue
                if stream.send_due(now):
                    self.finish(stream)
                    continue
                later.append((stream.due(stream.chunks_sent), order, stream))
            for entry in later:
                heapq.heappush(active, entry)
            if active:  # naps of at most NAP_S: a new stream's first chunk is never held back
                await asyncio.sleep(min(NAP_S, max(0.0, active[0][0] - CLOCK())))

    def truth_report(self) -> dict:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {"requests": self.truth, "cpu_s": usage.ru_utime + usage.ru_stime}


class Connection(asyncio.Protocol):
    """Minimal HTTP/1.1 (keep-alive, Content-Length bodies) for the few routes served."""

    def __init__(self, server: TruthServer) -> None:
        self.server = server
        self.buffer = b""
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            body, self.buffer = self.buffer[head_end + 4 : end], self.buffer[end:]
            method, path = head.split(" ", 2)[:2]
            self.route(method, path, body)

    def reply(self, status: str, data: bytes) -> None:
        self.transport.write(
            b"HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
            % (status.encode(), len(data), data)
        )

    def route(self, method: str, path: str, body: bytes) -> None:
        if method == "POST" and path == "/v1/chat/completions":
            self.server.start_stream(self.transport, json.loads(body or b"{}"))
        elif path == "/truth" and method == "GET":
            self.reply("200 OK", json.dumps(self.server.truth_report()).encode())
        elif path == "/truth/reset" and method == "POST":
            self.server.truth.clear()
            self.reply("200 OK", b"{}")
        elif path == "/health":
            self.reply("200 OK", b'{"status":"ok"}')
        else:
            self.reply("404 Not Found", b'{"error":{"message":"not found"}}')


async def serve(host: str, port: int, rate: float, ttft: float, per_chunk: int) -> None:
    server = TruthServer(rate, ttft, per_chunk)
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(lambda: Connection(server), host, port, backlog=4096)
    bound = listener.sockets[0].getsockname()[1]
    print(f"truthserver listening on http://{host}:{bound}", flush=True)
    await server.scheduler()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--rate", type=float, default=250.0, help="tokens/s per stream")
    parser.add_argument("--ttft", type=float, default=0.01, help="seconds to the first token")
    parser.add_argument("--per-chunk", type=int, default=1, help="tokens per SSE chunk")
    args = parser.parse_args(argv)
    runner = asyncio.Runner(loop_factory=_loop_factory())
    with contextlib.suppress(KeyboardInterrupt), runner:
        runner.run(serve(args.host, args.port, args.rate, args.ttft, args.per_chunk))


def _loop_factory():
    """uvloop's loop where installed (servelab's load client uses it too), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    main()
