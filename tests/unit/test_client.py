"""The streaming client against the fault-injecting server: timing, usage, every failure kind."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from servelab.client import chat, stream_client, stream_run
from servelab.errors import RunFailed
from servelab.sse_reader import StreamState
from servelab.streams import run_concurrent
from tests.fakes.fault_server import FaultServer, SpecProfile

PAYLOAD = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}


CLIENTS = {"httpx-default": httpx.AsyncClient, "stream-transport": stream_client}


@pytest.fixture(params=list(CLIENTS))
def make_client(request):
    """Every client test runs on httpx's default transport and on the lean one."""
    return CLIENTS[request.param]


def run_once(
    url: str,
    payload: dict,
    timeout_s: float = 10.0,
    api_key: str | None = None,
    make_client=httpx.AsyncClient,
):
    async def go():
        async with make_client() as client:
            return await stream_run(client, url, payload, timeout_s=timeout_s, api_key=api_key)

    return asyncio.run(go())


def test_normal_stream_counts_usage_tokens_and_times_decode_within_1_percent(make_client):
    with FaultServer(rate=200.0, tokens_per_chunk=1) as server:
        run = run_once(
            server.url, PAYLOAD | {"max_tokens": 200}, api_key="sekret", make_client=make_client
        )
    served = server.requests[0]
    truth = (served.tokens - 1) / (served.t_last - served.t_first)
    assert run.ok and run.error is None
    assert run.output_tokens == 200 and run.prompt_tokens == 1
    assert abs(run.decode_tps - truth) / truth < 0.01
    assert abs(run.decode_tps - 200.0) / 200.0 < 0.01  # the server's schedule
    assert run.ttft_s is not None and 0.005 < run.ttft_s < run.duration_s
    assert run.e2e_tps == pytest.approx(200 / run.duration_s)
    assert run.chunks == 200 and run.response_id == served.id
    assert served.authorization == "Bearer sekret"
    assert served.payload["stream"] is True
    assert served.payload["stream_options"] == {"include_usage": True}


def test_tokens_come_from_usage_not_from_chunks(make_client):
    with FaultServer(rate=1000.0, tokens_per_chunk=3) as server:
        run = run_once(server.url, PAYLOAD | {"max_tokens": 30}, make_client=make_client)
    assert run.ok and run.output_tokens == 30 and run.chunks == 10


def test_timings_give_drafted_and_accepted(make_client):
    spec = SpecProfile(rates=(1.0, 0.5))
    with FaultServer(rate=2000.0, timings=True, spec=spec) as server:
        run = run_once(server.url, PAYLOAD | {"max_tokens": 30}, make_client=make_client)
    # drafts = 30 // 3 = 10 → drafted 20, accepted 10 + 5
    assert (run.drafted, run.accepted) == (20, 15)
    assert run.engine_timings["predicted_n"] == 30


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("die", "connection broken mid-stream after 3 chunks"),
        ("malformed", "malformed SSE data (not a JSON object)"),
        ("http500", "HTTP 500: injected failure"),
        ("hang", "timeout: nothing for 0.5 s while waiting for data (after 3 chunks)"),
    ],
)
def test_faults_become_failed_runs_with_the_reason(mode, reason, make_client):
    with FaultServer(mode=mode, rate=1000.0, hang_s=10) as server:
        run = run_once(
            server.url, PAYLOAD | {"max_tokens": 20}, timeout_s=0.5, make_client=make_client
        )
    assert not run.ok
    assert reason in run.error
    assert "\n" not in run.error


def test_short_answer_is_flagged(make_client):
    with FaultServer(mode="short", rate=2000.0) as server:
        run = run_once(server.url, PAYLOAD | {"max_tokens": 20}, make_client=make_client)
    assert not run.ok and run.error.startswith("short: got 10 of 20 tokens; finish_reason 'length'")
    assert run.error.endswith("context per request ran out (1 prompt + 10 output tokens)")
    assert run.output_tokens == 10 and run.decode_tps is not None


def test_script_runs_faults_between_good_runs_on_one_client(make_client):
    script = ["normal", "die", "http500", "normal", "malformed", "normal"]
    with FaultServer(script=script, rate=2000.0) as server:

        async def go():
            async with make_client() as client:
                return [
                    await stream_run(client, server.url, PAYLOAD | {"max_tokens": 10}, timeout_s=5)
                    for _ in script
                ]

        runs = asyncio.run(go())
    assert [run.ok for run in runs] == [True, False, False, True, False, True]


def test_connect_error_is_a_failed_run(make_client):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run = run_once(
        f"http://127.0.0.1:{port}",
        PAYLOAD | {"max_tokens": 5},
        timeout_s=2,
        make_client=make_client,
    )
    assert not run.ok and run.error.startswith("cannot connect to")


def test_run_concurrent_spreads_streams_over_processes():
    with FaultServer(rate=200.0) as server:
        runs = run_concurrent(
            server.url, PAYLOAD | {"max_tokens": 100}, 4, processes=2, timeout_s=10
        )
    assert [run.index for run in runs] == [1, 2, 3, 4]
    assert all(run.ok and run.concurrency == 4 and run.output_tokens == 100 for run in runs)
    truth = {s.id: (s.tokens - 1) / (s.t_last - s.t_first) for s in server.requests}
    assert sorted(truth) == sorted(run.response_id for run in runs)
    for run in runs:
        assert abs(run.decode_tps - truth[run.response_id]) / truth[run.response_id] < 0.02


def test_chat_returns_the_answer_and_raises_one_line_on_errors():
    with FaultServer(script=["normal", "http500"]) as server:
        answer = chat(server.url, PAYLOAD | {"max_tokens": 3}, timeout_s=5)
        assert answer["usage"]["completion_tokens"] == 3
        with pytest.raises(RunFailed, match="HTTP 500: injected failure"):
            chat(server.url, PAYLOAD, timeout_s=5)


def feed(*lines: bytes) -> StreamState:
    state = StreamState()
    state.feed(list(lines), 1.0)
    return state


def test_byte_tests_tell_text_from_empty_null_and_escaped_content():
    assert feed(b'data: {"choices":[{"delta":{"content":null}}]}').chunks == 0
    assert feed(b'data: {"choices":[{"delta":{"content":""}}]}').chunks == 0
    assert feed(b'data: {"choices":[{"delta":{"content": "a"}}]}').chunks == 1
    assert feed(b'data: {"choices":[{"delta":{"reasoning_content":"think"}}]}').chunks == 1
    assert feed(b'data: {"choices":[{"delta":{"reasoning":"think"}}]}').chunks == 1
    text = b'data: {"choices":[{"delta":{"content":"\\"content\\":\\"\\""}}]}'
    assert feed(text).chunks == 1


def test_usage_chunk_is_parsed_and_garbage_is_malformed():
    state = feed(b'data: {"id":"x","choices":[],"usage":{"completion_tokens":7}}', b"data: [DONE]")
    assert state.usage == {"completion_tokens": 7} and state.done
    assert feed(b": keep-alive", b"event: message").error is None
    assert feed(b"not an sse line").error.startswith("malformed SSE line")
    broken = feed(b'data: {"id":"x","usage":{"completion_tokens":7}')
    assert broken.error.startswith("malformed JSON in SSE chunk")
    assert "server error mid-stream: boom" in feed(b'data: {"error":{"message":"boom"}}').error
