"""A fault-injecting OpenAI-compatible streaming server for tests (a thread on 127.0.0.1).

Modes, per chat request (a ``script`` of modes is consumed first, then ``mode``):
- ``normal``: N tokens (the request's max_tokens, or ``tokens``) at ``rate`` tokens/s after
  ``ttft`` s, ``tokens_per_chunk`` per SSE chunk, a final usage chunk (+ llama.cpp-style
  ``timings`` when ``timings=True``), then ``[DONE]``; a /metrics page counts speculation;
- ``short``: like normal but stops at half the tokens (a legitimate but short answer);
- ``die``: a few chunks, then the socket closes mid-body;
- ``malformed``: a few chunks, a truncated JSON data line, then normal continuation;
- ``http500``: an OpenAI-style error body with status 500;
- ``hang``: headers and a few chunks, then silence until the server stops (or ``hang_s``);
- ``buffered``: generates like normal (paced, timed, ``timings`` true to the pacing) but holds
  every byte back and writes the whole stream in one piece at the end, as a buffering reverse
  proxy does.

``close_after_stream=True`` closes the connection after each streamed response without saying
so (no ``Connection: close``), as llama-server does.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.openai_server import FakeHandler, FakeServer

MODES = ("normal", "short", "die", "malformed", "http500", "hang", "buffered")


@dataclass
class SpecProfile:
    """Deterministic speculation per request: drafts = max(1, tokens // (k + 1));
    accepted at position i = round(drafts × rates[i])."""

    rates: tuple[float, ...] = (0.9, 0.8, 0.6)

    @property
    def k(self) -> int:
        return len(self.rates)

    def for_tokens(self, tokens: int) -> tuple[int, int, list[int]]:
        drafts = max(1, tokens // (self.k + 1))
        per_position = [round(drafts * rate) for rate in self.rates]
        return drafts, drafts * self.k, per_position


@dataclass
class ServedRequest:
    """What the server saw and did for one request (the truth a test compares against)."""

    mode: str
    payload: dict[str, Any]
    authorization: str | None
    id: str = "chatcmpl-fake"
    prompt_tokens: int = 0  # whitespace-separated words of the messages, a stand-in tokenizer
    tokens: int = 0
    t_first: float | None = None  # time.perf_counter() when the first token was written
    t_last: float | None = None


@dataclass
class _Counters:
    drafts: int = 0
    drafted: int = 0
    accepted: int = 0
    per_position: list[int] = field(default_factory=list)
    generated: int = 0  # vLLM-style generation tokens and per-request decode time
    decode_s: float = 0.0
    finished: int = 0


class FaultServer(FakeServer):
    """``with FaultServer(mode=...) as server: server.url`` — a real HTTP server in a thread."""

    def __init__(
        self,
        mode: str = "normal",
        *,
        script: list[str] | None = None,
        tokens: int | None = None,
        rate: float = 500.0,
        ttft: float = 0.01,
        tokens_per_chunk: int = 1,
        timings: bool = False,
        spec: SpecProfile | None = None,
        metrics: str | None = "llamacpp",
        hang_s: float = 30.0,
        model: str = "fake-model",
        close_after_stream: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        for name in [mode, *(script or [])]:
            if name not in MODES:
                raise ValueError(f"unknown mode {name!r} (expected one of {MODES})")
        self.mode = mode
        self.script = deque(script or [])
        self.tokens = tokens
        self.rate = rate
        self.ttft = ttft
        self.tokens_per_chunk = tokens_per_chunk
        self.timings = timings
        self.spec = spec
        self.metrics = metrics
        self.hang_s = hang_s
        self.model = model
        self.close_after_stream = close_after_stream  # as llama-server does, despite keep-alive
        self.requests: list[ServedRequest] = []
        self.counters = _Counters(per_position=[0] * (spec.k if spec else 0))
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        super().__init__(host=host, port=port)

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        super().__exit__(*exc)

    def next_mode(self) -> str:
        with self._lock:
            return self.script.popleft() if self.script else self.mode

    def count_spec(self, tokens: int) -> tuple[int, int] | None:
        """Add one response's speculation to the counters; (drafted, accepted) for timings."""
        if self.spec is None:
            return None
        drafts, drafted, per_position = self.spec.for_tokens(tokens)
        with self._lock:
            self.counters.drafts += drafts
            self.counters.drafted += drafted
            self.counters.accepted += sum(per_position)
            for i, value in enumerate(per_position):
                self.counters.per_position[i] += value
        return drafted, sum(per_position)

    def metrics_text(self) -> str:
        """Prometheus text in the chosen engine's shape (vLLM adds labels and ``_created``)."""
        c = self.counters
        values = {
            "spec_decode_num_drafts": c.drafts,
            "spec_decode_num_draft_tokens": c.drafted,
            "spec_decode_num_accepted_tokens": c.accepted,
        }
        lines: list[str] = []
        if self.metrics == "vllm":
            labels = f'engine="0",model_name="{self.model}"'
            for name, value in values.items():
                lines += [
                    f"# TYPE vllm:{name}_total counter",
                    f"vllm:{name}_total{{{labels}}} {float(value)}",
                    f"# TYPE vllm:{name}_created gauge",
                    f"vllm:{name}_created{{{labels}}} 1.7e+09",
                ]
            family = "vllm:spec_decode_num_accepted_tokens_per_pos_total"
            lines.append(f"# TYPE {family} counter")
            lines += [
                f'{family}{{{labels},position="{i}"}} {float(v)}'
                for i, v in enumerate(c.per_position)
            ]
            lines += [
                "# TYPE vllm:generation_tokens_total counter",
                f"vllm:generation_tokens_total{{{labels}}} {float(c.generated)}",
                "# TYPE vllm:request_decode_time_seconds histogram",
                f'vllm:request_decode_time_seconds_bucket{{{labels},le="+Inf"}} {c.finished}',
                f"vllm:request_decode_time_seconds_count{{{labels}}} {c.finished}",
                f"vllm:request_decode_time_seconds_sum{{{labels}}} {c.decode_s}",
            ]
        else:
            for name, value in values.items():
                lines += [f"# TYPE llamacpp:{name}_total counter", f"llamacpp:{name}_total {value}"]
            family = "llamacpp:spec_decode_num_accepted_tokens_per_pos_total"
            lines.append(f"# TYPE {family} counter")
            lines += [f'{family}{{position="{i}"}} {v}' for i, v in enumerate(c.per_position)]
        return "\n".join(lines) + "\n"


class FaultHandler(FakeHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else small writes after a short reply wait ~40 ms
    fake: FaultServer

    # --- plumbing -------------------------------------------------------------------------
    held: list[bytes] | None = None  # ``buffered`` mode: bytes kept back until the end

    def _chunk(self, data: bytes) -> None:
        framed = b"%x\r\n%s\r\n" % (len(data), data)
        if self.held is not None:
            self.held.append(framed)
            return
        self.wfile.write(framed)
        self.wfile.flush()

    def _event(self, obj: dict[str, Any] | str) -> None:
        text = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
        self._chunk(b"data: " + text.encode() + b"\n\n")

    # --- routes ---------------------------------------------------------------------------
    def do_GET(self) -> None:
        if self.common_get():
            return
        if self.path == "/version" and self.fake.metrics == "vllm":
            self.send_json(200, {"version": "0.0.0-fake"})  # what vLLM answers: detectable
        elif self.path == "/metrics" and self.fake.metrics:
            self.send_json(200, self.fake.metrics_text().encode(), "text/plain; version=0.0.4")
        else:
            self.send_json(404, {"error": {"code": 404, "message": "File Not Found"}})

    def do_POST(self) -> None:
        payload = self.read_json()
        mode = self.fake.next_mode()
        served = ServedRequest(mode, payload, self.headers.get("Authorization"))
        with self.fake._lock:
            self.fake.requests.append(served)
            served.id = f"chatcmpl-fake-{len(self.fake.requests)}"
        if mode == "http500":
            body = {"error": {"code": 500, "message": "injected failure", "type": "server_error"}}
            self.send_json(500, body)
            return
        tokens = self.fake.tokens or payload.get("max_tokens") or 16
        served.prompt_tokens = sum(
            len(str(message.get("content", "")).split()) for message in payload.get("messages", [])
        )
        if mode == "short":
            tokens = max(1, tokens // 2)
        if not payload.get("stream"):
            self._plain(served, tokens)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._stream(served, mode, tokens)

    def _chunk_obj(
        self, served: ServedRequest, delta: dict[str, Any], finish: str | None = None
    ) -> dict[str, Any]:
        return {
            "id": served.id,
            "object": "chat.completion.chunk",
            "model": self.fake.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def _plain(self, served: ServedRequest, tokens: int) -> None:
        served.tokens = tokens
        body = {
            "id": served.id,
            "object": "chat.completion",
            "model": self.fake.model,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "length",
                    "message": {"role": "assistant", "content": " word" * tokens},
                }
            ],
            "usage": {
                "prompt_tokens": served.prompt_tokens,
                "completion_tokens": tokens,
                "total_tokens": tokens + served.prompt_tokens,
            },
        }
        self.send_json(200, body)

    def _stream(self, served: ServedRequest, mode: str, tokens: int) -> None:
        fake = self.fake
        self.held = [] if mode == "buffered" else None
        self._event(self._chunk_obj(served, {"role": "assistant", "content": None}))
        start = time.perf_counter() + fake.ttft
        sent = 0
        while sent < tokens:
            due = start + sent / fake.rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            if sent >= 3 and mode in ("die", "hang"):
                if mode == "hang":
                    fake.stopping.wait(fake.hang_s)
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            if sent == 3 and mode == "malformed":
                self._chunk(b'data: {"id":"chatcmpl-fake","choices":[{"delta":{"content":"x\n\n')
            count = min(fake.tokens_per_chunk, tokens - sent)
            self._event(self._chunk_obj(served, {"content": " word" * count}))
            now = time.perf_counter()
            served.t_first = served.t_first if served.t_first is not None else now
            served.t_last = now
            sent += count
            served.tokens = sent
        self._event(self._chunk_obj(served, {}, "length"))
        final: dict[str, Any] = {
            "id": served.id,
            "object": "chat.completion.chunk",
            "model": fake.model,
            "choices": [],
            "usage": {
                "prompt_tokens": served.prompt_tokens,
                "completion_tokens": tokens,
                "total_tokens": tokens + served.prompt_tokens,
            },
        }
        spec = fake.count_spec(tokens)
        if fake.timings:
            elapsed = (served.t_last or start) - (served.t_first or start)
            final["timings"] = {
                "predicted_n": tokens,
                "predicted_ms": elapsed * 1000,
                "predicted_per_second": tokens / elapsed if elapsed > 0 else None,
            }
            if spec is not None:
                final["timings"].update(draft_n=spec[0], draft_n_accepted=spec[1])
        with fake._lock:
            fake.counters.generated += tokens
            fake.counters.decode_s += (served.t_last or start) - (served.t_first or start)
            fake.counters.finished += 1
        self._event(final)
        self._event("[DONE]")
        self._chunk(b"")
        if self.held is not None:
            held, self.held = self.held, None
            self.wfile.write(b"".join(held))
            self.wfile.flush()
        if fake.close_after_stream:
            self.close_connection = True


FaultServer.Handler = FaultHandler
