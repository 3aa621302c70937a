"""The SSE reader: reads of plain token events are classified whole, exactly as line by line."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from servelab.client import stream_client, stream_run
from servelab.sse_reader import Reader, StreamState, Template, _plain_text_chunks
from tests.fakes.fault_server import FaultServer

HEAD = b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"delta":{"content":"'
TOKEN = HEAD + b' a"}}]}'
SAME_TEMPLATE = [  # one stream's token events: only the JSON string body differs
    HEAD + b'bb"}}]}',
    HEAD + b'\\"q\\""}}]}',  # escaped quotes
    HEAD + b'x\\\\"}}]}',  # a body ending in an escaped backslash
    HEAD + b'\\"}}]},\\"x"}}]}',  # a body that spells the tail, escaped
    HEAD + b'\\n"}}]}',
    HEAD + b'"}}]}',  # empty text
    HEAD + b'z"}],"finish_reason":"stop"}]}',  # the same head, another tail
]
EVENTS = [
    TOKEN,
    *SAME_TEMPLATE,
    b'data: {"id":"c1","choices":[{"delta":{"role":"assistant","content":""}}]}',
    b'data: {"choices":[{"delta":{"content": "spaced"}}]}',
    b'data: {"choices":[{"delta":{"content":null}}]}',
    b'data: {"choices":[{"delta":{"reasoning_content":"think"}}]}',
    b'data: {"choices":[{"delta":{"content":"\\"content\\":\\"x"}}]}',
    b'data:{"choices":[{"delta":{"content":"no space"}}]}',
    b": keep-alive",
    b'data: {"choices":[{"delta":{},"finish_reason":"length"}]}',
]
TAIL = b'data: {"id":"c1","choices":[],"usage":{"completion_tokens":9}}\n\ndata: [DONE]\n\n'


def line_by_line(reads: list[tuple[bytes, float]]) -> StreamState:
    """The reference: every read split into lines and fed one line at a time."""
    state, pending = StreamState(), b""
    for data, now in reads:
        lines = (pending + data).split(b"\n")
        pending = lines.pop()
        state.feed(lines, now)
    return state


def by_reader(reads: list[tuple[bytes, float]]) -> tuple[StreamState, dict[int, int]]:
    state, itl = StreamState(), {}
    reader = Reader(state, itl)
    for data, now in reads:
        reader(data, now)
    reader.finish()
    return state, itl


@settings(derandomize=True, max_examples=300, deadline=None)
@given(
    picks=st.lists(st.sampled_from(range(len(EVENTS))), min_size=1, max_size=30),
    crlf=st.booleans(),
    cuts=st.lists(st.integers(min_value=1, max_value=400), max_size=12),
)
def test_reader_equals_line_by_line_for_any_events_and_any_read_boundaries(picks, crlf, cuts):
    end = b"\r\n" if crlf else b"\n"
    body = b"".join(EVENTS[i] + end + end for i in picks) + TAIL
    reads, start = [], 0
    for n, cut in enumerate(sorted(set(cuts))):
        if start < cut < len(body):
            reads.append((body[start:cut], 1.0 + n))
            start = cut
    reads.append((body[start:], 100.0))
    want = line_by_line(reads)
    got, itl = by_reader(reads)
    fields = ("chunks", "reads", "t_first", "t_last", "usage", "done", "error", "finish_reason")
    assert [getattr(got, f) for f in fields] == [getattr(want, f) for f in fields]
    assert sum(itl.values()) == max(got.chunks - 1, 0)  # one gap per chunk after the first


def test_plain_reads_are_counted_whole_and_anything_else_is_not():
    assert _plain_text_chunks((TOKEN + b"\n\n") * 3) == 3
    assert _plain_text_chunks(TOKEN + b"\n\n" + EVENTS[8] + b"\n\n") == 1  # empty content
    assert _plain_text_chunks(TOKEN + b"\r\n\r\n") is None  # CRLF: line by line
    assert _plain_text_chunks(EVENTS[9] + b"\n\n") is None  # spaced JSON: line by line
    assert _plain_text_chunks(EVENTS[11] + b"\n\n") is None  # reasoning: line by line
    assert _plain_text_chunks(TAIL) is None  # usage and [DONE]: parsed
    assert _plain_text_chunks(EVENTS[-1] + b"\n\n") is None  # a finish reason: parsed


def test_a_template_counts_whole_reads_of_one_streams_token_events():
    template = Template.learn(SAME_TEMPLATE[2] + b"\n\n")  # learnt past escaped quotes
    assert template is not None and template.head == HEAD
    block = b"".join(event + b"\n\n" for event in (TOKEN, *SAME_TEMPLATE[:5]))
    assert template.chunks(block) == 6
    assert template.chunks(block + SAME_TEMPLATE[5] + b"\n\n") is None  # empty text
    assert template.chunks(block + SAME_TEMPLATE[6] + b"\n\n") is None  # another tail
    assert template.chunks(block[:-1]) is None  # not whole events
    assert template.chunks(TOKEN + b"\ndata: x\n\n") is None  # a second line in an event
    assert template.chunks(EVENTS[-1] + b"\n\n") is None  # another head


def test_the_read_timeout_is_a_silence_not_a_total():
    """A 1.5 s stream with 50 ms gaps passes a 0.5 s read timeout on the sink path; a stream
    that falls silent fails after it."""

    async def go(url, payload):
        async with stream_client(5) as client:
            return await stream_run(client, url, payload, timeout_s=0.5)

    with FaultServer(rate=20.0) as server:
        run = asyncio.run(go(server.url, {"max_tokens": 30}))
    assert run.ok and run.output_tokens == 30 and run.duration_s > 1.0
    with FaultServer(mode="hang", rate=1000.0, hang_s=10) as server:
        run = asyncio.run(go(server.url, {"max_tokens": 20}))
    assert not run.ok and "timeout: nothing for 0.5 s" in run.error


class Source:
    """What a connection tells the reader of each read (servelab.http1.Connection)."""

    def __init__(self, read_at: float, floor: float, clean: bool = True, kernel: bool = True):
        self.read_at, self.floor, self.clean, self.kernel = read_at, floor, clean, kernel


def _event(text: str) -> bytes:
    return HEAD + text.encode() + b'"}}]}\n\n'


def test_a_text_event_that_ends_a_kernel_stamped_read_is_stamped_exactly():
    state = StreamState()
    reader = Reader(state, None)
    reader.source = Source(read_at=1.5, floor=0.2)
    reader(_event("a"), 1.0)  # alone in its read: the stamp is its own arrival
    assert state.first_read == (1.5, 1.0)
    reader.source = Source(read_at=2.5, floor=1.4)
    reader(_event("b") + _event("c"), 2.0)  # two in one read: the last one is exact
    assert state.last_read == (2.5, 2.0)
    assert state.first_read == (1.5, 1.0)


def test_a_stamp_is_not_exact_when_more_came_after_it_in_the_read():
    state = StreamState()
    reader = Reader(state, None)
    reader.source = Source(read_at=1.5, floor=0.2)
    reader(_event("a") + _event("b"), 1.0)  # the first text event is not the read's newest
    assert state.first_read == (1.5, 0.2)
    reader.source = Source(read_at=3.5, floor=2.4, clean=False)  # a later chunk's bytes too
    reader(_event("d"), 3.0)
    assert state.last_read == (3.5, 2.4)
    reader.source = Source(read_at=4.5, floor=3.4, kernel=False)  # the loop's clock: never
    reader(_event("e"), 4.0)
    assert state.last_read == (4.5, 3.4)
    reader.source = Source(read_at=5.5, floor=4.4)
    reader(_event("f") + b"data: [DONE]\n\n", 5.0)  # the last text, then [DONE], one read
    assert state.last_read == (5.5, 4.4)
