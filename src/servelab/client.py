"""Streaming OpenAI-compatible chat client (httpx) that times every SSE chunk cheaply.

The figures (output tokens, TTFT, decode and end-to-end t/s) are defined and computed in
``servelab.metrics``; this module only takes the timestamps they need.

Chunks are timestamped per network read and classified by byte tests (servelab.sse_reader);
only chunks that may carry usage, the engine's own record or an error are JSON-parsed. Every
failure becomes a failed RunRecord with a one-line reason; ``stream_run`` never raises.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from servelab import metrics
from servelab.endpoint import auth_headers
from servelab.errors import RunFailed
from servelab.records import RunRecord
from servelab.sse_reader import Reader, StreamState, one_line
from servelab.transport import BODY, StreamTransport

CHAT_PATH = "/v1/chat/completions"
MAX_ERROR_CHARS = 300

SpecReader = Callable[[dict[str, Any]], tuple[int, int] | None]


def _headers(api_key: str | None, json: bool = False) -> dict[str, str]:
    kind = {"Content-Type": "application/json"} if json else {}
    return {
        "Accept": "text/event-stream",
        "Accept-Encoding": "identity",
        **kind,
        **auth_headers(api_key),
    }


@functools.cache
def _length_fields() -> tuple[str, ...]:
    from servelab.engines import length_fields

    return length_fields()


def requested_tokens(payload: dict[str, Any]) -> int | None:
    """The output length a payload asks for (max_tokens, max_completion_tokens or an engine's
    own field, as the adapters name them)."""
    for key in _length_fields():
        value = payload.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return None


def error_message(body: bytes) -> str:
    """The human part of an error body (OpenAI, FastAPI or plain text)."""
    try:
        data = json.loads(body)
    except ValueError:
        return one_line(body.decode("utf-8", "replace")) or "(empty body)"
    if isinstance(data, dict):
        inner = data.get("error", data)
        if isinstance(inner, dict):
            for key in ("message", "detail", "msg"):
                if inner.get(key):
                    return one_line(inner[key])
        elif inner:
            return one_line(inner)
        if data.get("detail"):
            return one_line(json.dumps(data["detail"]))
    return one_line(body.decode("utf-8", "replace"))


_engines: list[Any] | None = None


def _all_engines() -> list[Any]:
    """Every engine adapter (each reads its own fields of a response's record)."""
    global _engines
    if _engines is None:
        from servelab.engines import all_engines

        _engines = all_engines()
    return _engines


def _default_spec_readers() -> list[SpecReader]:
    """Each engine adapter's reader of (drafted, accepted) from a response's own record."""
    return [engine.spec_from_response for engine in _all_engines()]


def _server_decode(final: dict[str, Any]) -> float | None:
    """The server's own decode t/s from a response's record, where an engine adapter finds one."""
    for engine in _all_engines():
        found = engine.decode_from_response(final)
        if found is not None:
            return metrics.server_decode_tps(*found)
    return None


def _short_hint(state: StreamState, tokens: int) -> str:
    """Why a stream stopped early, as far as the server said (its finish_reason)."""
    if state.finish_reason == "length":
        prompt = (state.usage or {}).get("prompt_tokens")
        used = f" ({prompt} prompt + {tokens} output tokens)" if isinstance(prompt, int) else ""
        return f"; finish_reason 'length': the server's context per request ran out{used}"
    if state.finish_reason == "stop":
        return "; finish_reason 'stop': the server ended at end-of-text despite ignore_eos"
    return f"; finish_reason {state.finish_reason!r}" if state.finish_reason else ""


def _failed(reason: str, started_at: float, **extra: Any) -> RunRecord:
    return RunRecord(index=0, ok=False, error=one_line(reason), started_at=started_at, **extra)


def _slack(state: StreamState) -> tuple[float, float | None, float, float | None] | None:
    """(held, window) of the first and last text stamps (RunRecord.stamp_slack)."""
    if state.first_read is None or state.last_read is None:
        return None
    if state.t_first is None or state.t_last is None:
        return None
    (first_at, first_floor), (last_at, last_floor) = state.first_read, state.last_read
    return (
        max(0.0, first_at - state.t_first),
        None if first_floor is None else state.t_first - first_floor,
        max(0.0, last_at - state.t_last),
        None if last_floor is None else state.t_last - last_floor,
    )


def _record(
    state: StreamState,
    t_sent: float,
    started_at: float,
    requested: int | None,
    spec_readers: list[SpecReader],
) -> RunRecord:
    """Turn a finished stream into a RunRecord (the definitions in the module docstring)."""
    common: dict[str, Any] = {
        "chunks": state.chunks,
        "response_id": state.response_id,
        "ttft_s": metrics.ttft(t_sent, state.t_first),
        "reads": len(state.reads),
        "first_read_chunks": state.reads[0] if state.reads else None,
        "max_read_chunks": max(state.reads, default=None),
    }
    if state.t_last is not None:
        common["duration_s"] = state.t_last - t_sent
    common["stamp_slack"] = _slack(state)
    if state.error:
        return _failed(state.error, started_at, **common)
    if state.usage is None:
        why = "stream ended without a usage chunk"
        if not state.done:
            why += f" or [DONE] (died mid-stream after {state.chunks} chunks)"
        return _failed(
            why + "; the server must honour stream_options.include_usage", started_at, **common
        )
    if not state.done:
        return _failed(
            f"stream ended without [DONE] after {state.chunks} chunks", started_at, **common
        )
    tokens = state.usage.get("completion_tokens")
    if not isinstance(tokens, int):
        return _failed("usage chunk has no integer completion_tokens", started_at, **common)
    record = RunRecord(
        index=0,
        ok=True,
        output_tokens=tokens,
        started_at=started_at,
        prompt_tokens=state.usage.get("prompt_tokens"),
        engine_timings=state.record,
        **common,
    )
    record.decode_tps = metrics.decode_tps(tokens, state.t_first, state.t_last)
    record.e2e_tps = metrics.e2e_tps(tokens, t_sent, state.t_last)
    record.server_decode_tps = _server_decode(state.final)
    if record.server_decode_tps is not None:
        record.server_source = "response"
    for read_spec in spec_readers:
        spec = read_spec(state.final)
        if spec is not None:
            record.drafted, record.accepted = spec
            break
    if requested is not None and tokens < requested:
        record.ok = False
        record.error = f"short: got {tokens} of {requested} tokens" + _short_hint(state, tokens)
    return record


async def stream_run(
    client: httpx.AsyncClient,
    base_url: str,
    payload: dict[str, Any],
    *,
    timeout_s: float,
    api_key: str | None = None,
    spec_readers: list[SpecReader] | None = None,
    itl: dict[int, int] | None = None,
) -> RunRecord:
    """One streamed chat completion, timed. ``timeout_s`` bounds connecting and every silence
    between two reads (a hang), not the whole run. ``index``/``cold`` are the caller's to set.
    ``itl``, when given, counts inter-chunk gaps in whole µs (chunks of one read: gap 0)."""
    body = dict(payload, stream=True, stream_options={"include_usage": True})
    url = base_url.rstrip("/") + CHAT_PATH
    readers = _default_spec_readers() if spec_readers is None else spec_readers
    requested = requested_tokens(payload)
    state = StreamState()
    started_at = time.time()
    t_sent = time.perf_counter()
    reader = Reader(state, itl)
    try:
        lean = getattr(client, "lean", None)
        if lean is not None:  # stream_client's: no httpx request and response objects
            status, stream = await lean.post(
                url, json.dumps(body).encode(), _headers(api_key, json=True), timeout_s
            )
            try:
                if status >= 400:
                    text = await stream.read_all()
                    return _failed(f"HTTP {status}: {error_message(text[:4000])}", started_at)
                reader.source = stream.connection
                await stream.deliver(reader)
            finally:
                await stream.aclose()
        else:
            failed = await _through_httpx(client, url, body, api_key, timeout_s, reader)
            if failed is not None:
                return _failed(failed, started_at)
        reader.finish()
    except httpx.TimeoutException as exc:
        phase = "connecting" if isinstance(exc, httpx.ConnectTimeout) else "waiting for data"
        state.error = (
            f"timeout: nothing for {timeout_s:g} s while {phase} (after {state.chunks} chunks)"
        )
    except httpx.ConnectError as exc:
        state.error = f"cannot connect to {url}: {exc}"
    except httpx.RemoteProtocolError as exc:
        state.error = f"connection broken mid-stream after {state.chunks} chunks: {exc}"
    except (httpx.HTTPError, OSError) as exc:
        state.error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # never let one run take the bench down
        state.error = f"unexpected {type(exc).__name__}: {exc}"
    return _record(state, t_sent, started_at, requested, readers)


async def _through_httpx(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    api_key: str | None,
    timeout_s: float,
    reader: Reader,
) -> str | None:
    """The run through any httpx client; the HTTP error's one line, or None."""
    async with client.stream(
        "POST", url, json=body, headers=_headers(api_key), timeout=timeout_s
    ) as response:
        if response.status_code >= 400:
            text = await response.aread()
            return f"HTTP {response.status_code}: {error_message(text[:4000])}"
        stream = response.extensions.get(BODY)
        if stream is not None:  # the lean transport: reads reach the reader as they arrive
            reader.source = stream.connection
            await stream.deliver(reader)
            return None
        clock = time.perf_counter  # any other transport: stamped when seen here
        async for data in response.aiter_raw():
            if not reader(data, clock()):
                break
    return None


class LeanClient(httpx.AsyncClient):
    """An AsyncClient on the lean transport; ``stream_run`` posts through ``lean`` directly."""

    def __init__(self, timeout_s: float | None = None) -> None:
        self.lean = StreamTransport()
        super().__init__(transport=self.lean, timeout=timeout_s)


def stream_client(timeout_s: float | None = None) -> httpx.AsyncClient:
    """An AsyncClient on the lean streaming transport (any number of keep-alive connections)."""
    return LeanClient(timeout_s)


def chat(
    base_url: str,
    payload: dict[str, Any],
    *,
    timeout_s: float = 120.0,
    api_key: str | None = None,
) -> dict[str, Any]:
    """One plain (non-streamed) chat completion for checks; RunFailed with one line on error."""
    url = base_url.rstrip("/") + CHAT_PATH
    try:
        response = httpx.post(
            url, json=dict(payload, stream=False), headers=auth_headers(api_key), timeout=timeout_s
        )
    except httpx.TimeoutException:
        raise RunFailed(f"POST {url}: no answer within {timeout_s:g} s") from None
    except httpx.HTTPError as exc:
        raise RunFailed(f"POST {url} failed: {type(exc).__name__}: {one_line(exc)}") from None
    if response.status_code >= 400:
        raise RunFailed(
            f"POST {url}: HTTP {response.status_code}: {error_message(response.content[:4000])}"
        )
    try:
        data = response.json()
    except ValueError:
        raise RunFailed(f"POST {url}: the answer is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        raise RunFailed(f"POST {url}: the answer has no 'choices' list")
    return data
