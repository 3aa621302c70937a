"""What a load level sends: the post's fixed prompt, synthetic prompts of exact token lengths,
a JSONL dataset or a ShareGPT file. Every request is a chat payload with a fixed output length.

- fixed: the workload's messages, ``output_len`` tokens out.
- synthetic: a user message of ``input_len`` tokens (uniform in ±``spread`` × input_len), the
  first ``prefix_len`` of them shared by every request, the rest random words; ``output_len``
  (± the same spread) tokens out. Lengths count the message's tokens without the chat template.
- jsonl: one ``{"prompt": …}`` or ``{"messages": […]}`` per line, optional ``output_tokens``
  and ``timestamp`` (ms; a fixed schedule sends each record at its timestamp: trace replay).
- sharegpt: ``[{"conversations": [{"from": "human", "value": …}, {"from": "gpt", …}]}, …]``;
  the first human turn is sent and the first reply's length (counted) is asked for.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from servelab.engines.base import fixed_length_fields
from servelab.errors import BadInput
from servelab.load.tokens import Counter, exact_text


@dataclass
class LoadWorkload:
    """The prompts of a load bench."""

    kind: str = "fixed"  # fixed, synthetic, jsonl or sharegpt
    output_len: int = 256
    input_len: int | None = None
    spread: float = 0.0
    prefix_len: int = 0
    path: str | None = None
    seed: int = 0

    def describe(self) -> dict[str, Any]:
        return {key: value for key, value in vars(self).items() if value not in (None, 0, 0.0)}


@dataclass
class Request:
    messages: list[dict[str, Any]]
    output_tokens: int
    at_s: float | None = None  # a trace's send time (seconds from its start)


def _vocabulary() -> list[str]:
    text = resources.files("servelab.workloads").joinpath("data/prose.txt").read_text()
    words = sorted({word.strip(".,;:!?\"'()").lower() for word in text.split()})
    return [word for word in words if word.isalpha()] or ["word"]


def _spread(rng: random.Random, value: int, spread: float) -> int:
    low, high = round(value * (1 - spread)), round(value * (1 + spread))
    return max(1, rng.randint(low, high)) if spread else value


def synthetic(spec: LoadWorkload, count: int, counter: Counter | None) -> list[Request]:
    if counter is None:
        raise BadInput(
            "needs the model's tokenizer: give {tokenizer} (a tokenizer.json) or bench a server "
            "with a tokenize endpoint",
            field="input_len",
            value=spec.input_len,
            mentions=["tokenizer"],
        )
    if spec.prefix_len >= (spec.input_len or 0):
        raise BadInput(
            "must be smaller than {input_len}",
            field="prefix_len",
            value=spec.prefix_len,
            mentions=["input_len"],
        )
    rng, words = random.Random(spec.seed), _vocabulary()
    prefix = exact_text(spec.prefix_len, counter, words, rng)

    def with_prefix(text: str) -> int:
        return counter(prefix + " " + text) if prefix else counter(text)

    requests = []
    for _ in range(count):
        total = _spread(rng, spec.input_len, spec.spread)
        own = max(1, total - spec.prefix_len)
        body = exact_text(own + spec.prefix_len, with_prefix, words, rng)
        text = prefix + " " + body if prefix else body
        out = _spread(rng, spec.output_len, spec.spread)
        requests.append(Request([{"role": "user", "content": text}], out))
    return requests


def _read_lines(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise BadInput(f"{path}:{number}: not a JSON object") from None
        if not isinstance(row, dict):
            raise BadInput(f"{path}:{number}: not a JSON object")
        rows.append(row)
    return rows


def jsonl(spec: LoadWorkload) -> list[Request]:
    path = Path(spec.path or "")
    if not path.is_file():
        raise BadInput("no such file", field="dataset", value=spec.path)
    requests = []
    for number, row in enumerate(_read_lines(path), 1):
        if isinstance(row.get("messages"), list):
            messages = row["messages"]
        elif isinstance(row.get("prompt"), str):
            messages = [{"role": "user", "content": row["prompt"]}]
        else:
            raise BadInput(f"{path}: entry {number} has neither 'prompt' nor 'messages'")
        out = row.get("output_tokens", spec.output_len)
        if not isinstance(out, int) or out < 1:
            raise BadInput(f"{path}: entry {number}: output_tokens must be a positive integer")
        at = row.get("timestamp")
        if at is not None and (isinstance(at, bool) or not isinstance(at, int | float) or at < 0):
            raise BadInput(f"{path}: entry {number}: timestamp must be a number of ms ≥ 0")
        requests.append(Request(messages, out, None if at is None else at / 1000.0))
    return requests


def trace(spec: LoadWorkload, count: int | None) -> list[Request]:
    """The first ``count`` (default: all) records of a timestamped JSONL, in send order, the
    first at 0 s."""
    requests = jsonl(spec)
    missing = next((n for n, r in enumerate(requests, 1) if r.at_s is None), None)
    if missing is not None:
        raise BadInput(f"{spec.path}: entry {missing} has no 'timestamp' (ms) for a fixed schedule")
    if count is not None and count > len(requests):
        raise BadInput(
            f"the trace {spec.path} has {len(requests)} entries", field="num_prompts", value=count
        )
    requests.sort(key=lambda request: request.at_s or 0.0)
    chosen = requests[: count or len(requests)]
    start = chosen[0].at_s or 0.0
    return [Request(r.messages, r.output_tokens, (r.at_s or 0.0) - start) for r in chosen]


def sharegpt(spec: LoadWorkload, counter: Counter | None) -> list[Request]:
    path = Path(spec.path or "")
    if not path.is_file():
        raise BadInput("no such file", field="dataset", value=spec.path)
    text = path.read_text()
    try:
        rows = json.loads(text) if text.lstrip().startswith("[") else _read_lines(path)
    except ValueError:
        raise BadInput(f"{path}: not a ShareGPT JSON array") from None
    requests = []
    for row in rows:
        turns = row.get("conversations") if isinstance(row, dict) else None
        if not isinstance(turns, list):
            continue
        human = next((t.get("value") for t in turns if t.get("from") == "human"), None)
        reply = next((t.get("value") for t in turns if t.get("from") == "gpt"), None)
        if not human:
            continue
        out = counter(reply) if counter is not None and reply else spec.output_len
        requests.append(Request([{"role": "user", "content": human}], max(1, out)))
    if not requests:
        raise BadInput(f"{path}: no conversation with a human turn")
    return requests


def requests_for(
    spec: LoadWorkload, fixed_messages: list[dict[str, Any]], count: int, counter: Counter | None
) -> list[Request]:
    """``count`` requests (a dataset is cycled when it is shorter)."""
    if spec.kind == "synthetic":
        pool = synthetic(spec, count, counter)
    elif spec.kind == "jsonl":
        pool = jsonl(spec)
    elif spec.kind == "sharegpt":
        pool = sharegpt(spec, counter)
    else:
        pool = [Request(fixed_messages, spec.output_len)]
    return [pool[i % len(pool)] for i in range(count)]


def payloads(
    requests: list[Request], model: str, engine, temperature: float = 0.0
) -> list[dict[str, Any]]:
    """Chat payloads forcing each request's output length."""
    return [
        {
            "model": model,
            "messages": request.messages,
            "temperature": temperature,
            **fixed_length_fields(engine, request.output_tokens),
        }
        for request in requests
    ]
