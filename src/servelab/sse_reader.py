"""Reads the SSE body of a streamed chat completion: counts text chunks per network read,
stamps the first and the last, and JSON-parses only the chunks that may carry usage, the
engine's own per-response record (under the field its adapter names), a finish reason or an
error.

Most reads of a busy stream hold nothing but plain token events; those are classified in one
pass of byte searches over the whole read (``_plain_text_chunks``), the rest line by line. A
stream's token events differ only in their text: the bytes before it and after it (the
``Template``, learnt from the first plain event) stay the same, so a later read whose every
event is that head, a non-empty JSON string body and that tail holds one text chunk per event,
found with a few whole-read byte counts (``Template.chunks``).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from servelab.engines import response_record_fields

# A non-empty text value: the first character after the opening quote is not the closing one.
_TEXT = re.compile(rb'"(?:content|reasoning_content|reasoning)"\s*:\s*"[^"]')
# The fields under which engines put their own per-response record (each adapter names its own).
_RECORDS = response_record_fields()
_OBJECTS = b"|".join(re.escape(name.encode()) for name in ("usage", *_RECORDS))
# Chunks that need real parsing: usage, an engine's record, an error or why it finished.
_PARSE = re.compile(rb'"(?:' + _OBJECTS + rb')"\s*:\s*\{|"error"\s*:|"finish_reason"\s*:\s*"')
_BENIGN_FIELDS = (b":", b"event:", b"id:", b"retry:")
_COMPACT_CONTENT = b'"content":"'  # how engines write it (compact JSON): found by bytes.find
_EMPTY_CONTENT = b'"content":""'
MAX_ERROR_CHARS = 300
# A read made only of complete `data: {…}` events with LF endings (JSON strings hold no raw LF).
_PLAIN_EVENTS = re.compile(rb"(?:data: ?\{[^\n]*\}\n\n)+")
_FINISH = b'"finish_reason":"'  # a finish reason given (compact JSON; token chunks carry null)
_MARKERS = (b'"usage"', *(b'"%s"' % name.encode() for name in _RECORDS), b'"error"', _FINISH)
_SPECIAL = (*_MARKERS, b"reasoning", b"[DONE]")


def one_line(text: str) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= MAX_ERROR_CHARS else flat[: MAX_ERROR_CHARS - 1] + "…"


def _has_text(data: bytes) -> bool:
    """Does the chunk carry non-empty text? A byte search first, the regex when it cannot tell."""
    at = data.find(_COMPACT_CONTENT)
    if at >= 0 and data[at + 11 : at + 12] not in (b'"', b""):
        return True
    return _TEXT.search(data) is not None


def _needs_parse(data: bytes) -> bool:
    """Might the chunk hold usage, an engine's record, a finish reason or an error (then it is
    JSON-parsed)?"""
    for marker in _MARKERS:
        if marker in data:
            return _PARSE.search(data) is not None
    return False


def _plain_text_chunks(block: bytes) -> int | None:
    """Text chunks in a block of plain token events (one compact ``content`` each at most), or
    None when the block needs reading line by line."""
    if not _PLAIN_EVENTS.fullmatch(block):
        return None
    for marker in _SPECIAL:
        if marker in block:
            return None
    keys = block.count(b'"content"')
    if keys != block.count(_COMPACT_CONTENT) or keys > block.count(b"\n") // 2:
        return None
    return keys - block.count(_EMPTY_CONTENT)


class Template:
    """The fixed bytes around the text of one stream's token events."""

    __slots__ = ("head", "tail_end", "joint")

    def __init__(self, head: bytes, tail: bytes) -> None:
        self.head = head  # ends with "content":"
        self.tail_end = tail + b"\n\n"  # tail starts with the string's closing quote
        self.joint = self.tail_end + head  # where one event ends and the next begins

    @classmethod
    def learn(cls, block: bytes) -> Template | None:
        """The template of the first event of a block of plain token events (None: none fits)."""
        event = block[: block.find(b"\n")]
        start = event.find(_COMPACT_CONTENT)
        if start < 0:
            return None
        start += len(_COMPACT_CONTENT)
        end = start
        while True:  # the string's closing quote: the first one no backslash escapes
            end = event.find(b'"', end)
            if end < 0:
                return None
            backslashes = len(event[start:end]) - len(event[start:end].rstrip(b"\\"))
            if backslashes % 2 == 0:
                break
            end += 1
        return cls(event[:start], event[end:]) if end > start else None

    def chunks(self, block: bytes) -> int | None:
        """Text chunks in a block made only of this template's events, else None.

        With ``n`` blank-line separators, exactly ``2n`` newlines (none inside an event), the
        block starting with the head, ending with the tail, and each of the ``n − 1`` inner
        separators inside a tail-then-head joint, every event is head, body, tail. A JSON
        string body escapes every quote, so it cannot hold the head, the tail or the empty
        string's ``"content":""`` (which marks an event without text)."""
        count = block.count(b"\n\n")
        if (
            not count
            or not block.startswith(self.head)
            or not block.endswith(self.tail_end)
            or block.count(b"\n") != 2 * count
            or block.count(self.joint) != count - 1
            or _EMPTY_CONTENT in block
        ):
            return None
        return count


class StreamState:
    """Per-request parse state: timestamps, counts, and the few parsed chunks."""

    __slots__ = (
        "chunks",
        "t_first",
        "t_last",
        "usage",
        "record",
        "final",
        "done",
        "error",
        "response_id",
        "reads",
        "finish_reason",
        "first_read",
        "last_read",
        "text_last",
    )

    def __init__(self) -> None:
        self.chunks = 0
        self.t_first: float | None = None
        self.t_last: float | None = None
        self.usage: dict[str, Any] | None = None
        self.record: dict[str, Any] | None = None  # the engine's own per-response record
        self.final: dict[str, Any] = {}
        self.done = False
        self.error: str | None = None
        self.response_id: str | None = None
        self.reads: list[int] = []  # content chunks per network read that carried any
        self.finish_reason: str | None = None  # the server's own why it stopped, if it said
        # (read_at, floor) of the reads that stamped t_first and t_last, when the transport
        # tells them (servelab.http1.Connection): when the loop took the read, and after when
        # its bytes reached the socket
        self.first_read: tuple[float, float | None] | None = None
        self.last_read: tuple[float, float | None] | None = None
        self.text_last = False  # the last event fed carried text

    def feed(self, lines: list[bytes], now: float) -> None:
        """Classify complete SSE lines that arrived in one read at time ``now``."""
        before = self.chunks
        self._feed(lines, now)
        if self.chunks > before:
            self.reads.append(self.chunks - before)

    def _feed(self, lines: list[bytes], now: float) -> None:
        for line in lines:
            if not line:  # the blank line that ends every event
                continue
            if line[-1] == 13:  # CR LF line endings
                line = line[:-1]
                if not line:
                    continue
            if self.done:
                continue
            if not line.startswith(b"data:"):
                if line.startswith(_BENIGN_FIELDS):
                    continue
                self.error = "malformed SSE line: " + one_line(repr(line[:80]))
                return
            data = line[5:].strip()
            if data == b"[DONE]":
                self.done = True
                self.text_last = False
                continue
            if not (data.startswith(b"{") and data.endswith(b"}")):
                self.error = "malformed SSE data (not a JSON object): " + one_line(repr(data[:80]))
                return
            self.text_last = _has_text(data)
            if self.text_last:
                self.chunks += 1
                if self.t_first is None:
                    self.t_first = now
                self.t_last = now
            if _needs_parse(data) and not self._parse(data):
                return

    def _parse(self, data: bytes) -> bool:
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            self.error = f"malformed JSON in SSE chunk: {exc}"
            return False
        if not isinstance(chunk, dict):
            self.error = "malformed SSE chunk: not a JSON object"
            return False
        if chunk.get("error"):
            error = chunk["error"]
            message = error.get("message", error) if isinstance(error, dict) else error
            self.error = "server error mid-stream: " + one_line(str(message))
            return False
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
            self.response_id = chunk.get("id") or self.response_id
        choices = chunk.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            reason = choices[0].get("finish_reason")
            self.finish_reason = reason if isinstance(reason, str) else self.finish_reason
        for name in _RECORDS:
            if isinstance(chunk.get(name), dict):
                self.record = chunk[name]
        self.final.update(chunk)
        return True


class Reader:
    """Feeds each network read to the stream state, whole when it holds only plain token
    events, else line by line; counts ITL gaps when given a histogram (µs → count)."""

    __slots__ = ("state", "itl", "pending", "template", "source")

    def __init__(self, state: StreamState, itl: dict[int, int] | None) -> None:
        self.state, self.itl, self.pending = state, itl, b""
        self.template: Template | None = None
        self.source: Any = None  # the connection whose read_at and floor describe each read

    def __call__(self, data: bytes, now: float) -> bool:
        """Feed one read received at ``now``; False once the stream is in error (stop)."""
        text = self.pending + data if self.pending else data
        cut = text.rfind(b"\n") + 1
        block, self.pending = text[:cut], text[cut:]
        if not block:
            return True
        state = self.state
        before, previous = state.chunks, state.t_last
        plain = None if state.done else self._plain(block)
        if plain is None:
            state.feed(block.split(b"\n"), now)
        elif plain:
            state.chunks += plain
            state.reads.append(plain)
            if state.t_first is None:
                state.t_first = now
            state.t_last = now
        if state.chunks > before:
            source = self.source
            if source is not None:
                # A text event that ends the read (its chunk's framing aside) is stamped exactly:
                # the kernel's stamp is the arrival of the read's newest bytes, its own.
                exact = state.text_last and not self.pending and source.clean and source.kernel
                state.last_read = (source.read_at, now if exact else source.floor)
                if not before:
                    state.first_read = (
                        state.last_read
                        if state.chunks - before == 1
                        else (source.read_at, source.floor)
                    )
            if self.itl is not None:
                _count_gaps(self.itl, state.chunks - before, previous, now)
        return state.error is None

    def _plain(self, block: bytes) -> int | None:
        """Text chunks of a block of plain token events (None: read it line by line)."""
        if self.template is not None:
            found = self.template.chunks(block)
            if found is not None:
                self.state.text_last = True  # every event of the template's carries text
                return found
        found = _plain_text_chunks(block)
        if found:
            self.template = Template.learn(block)
            self.state.text_last = _last_event_has_text(block)
        return found

    def finish(self) -> None:
        """A last line without its newline, if the body ended on one."""
        if self.pending.strip() and not self.state.error:
            self.state.feed([self.pending], time.perf_counter())


def _last_event_has_text(block: bytes) -> bool:
    """Does the block's last event (the block ends with a blank line) carry text?"""
    return _has_text(block[block.rfind(b"\n\n", 0, len(block) - 2) + 2 :])


def _count_gaps(itl: dict[int, int], new: int, previous: float | None, now: float) -> None:
    """The gaps between text chunks: a read's first chunk is ``now − previous`` after the last
    one before it, the others of the same read 0 µs after it."""
    if new and previous is not None:
        gap = round((now - previous) * 1e6)
        itl[gap] = itl.get(gap, 0) + 1
    if new > 1:
        itl[0] = itl.get(0, 0) + new - 1
