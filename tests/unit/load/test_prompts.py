"""Load prompts: exact token lengths with the model's own tokenizer, datasets, bad files."""

from __future__ import annotations

import json
import os
import random

import pytest

from servelab.errors import BadInput
from servelab.load.prompts import LoadWorkload, payloads, requests_for, trace
from servelab.load.tokens import exact_text, local_counter
from tests.support import models_root

TOKENIZER = models_root() / "stories260k" / "hf" / "tokenizer.json"
needs_tokenizer = pytest.mark.skipif(not TOKENIZER.is_file(), reason="stories260k hf missing")


@needs_tokenizer
def test_exact_text_has_exactly_n_tokens():
    count = local_counter(TOKENIZER.parent)
    words = ["once", "upon", "a", "time", "there", "was", "little", "girl", "named", "lily"]
    rng = random.Random(0)
    for target in (1, 2, 7, 64, 300):
        assert count(exact_text(target, count, words, rng)) == target


@needs_tokenizer
def test_synthetic_prompts_with_spread_and_a_shared_prefix():
    count = local_counter(TOKENIZER)
    spec = LoadWorkload(kind="synthetic", input_len=64, output_len=20, spread=0.25, prefix_len=16)
    requests = requests_for(spec, [], 12, count)
    texts = [request.messages[0]["content"] for request in requests]
    lengths = [count(text) for text in texts]
    assert all(48 <= n <= 80 for n in lengths) and len(set(lengths)) > 1
    shared = os.path.commonprefix(texts).rsplit(" ", 1)[0]  # whole words only
    assert 15 <= count(shared) <= 16  # every prompt starts with the same 16-token text
    assert all(15 <= request.output_tokens <= 25 for request in requests)
    plain = requests_for(LoadWorkload(kind="synthetic", input_len=33), [], 3, count)
    assert [count(r.messages[0]["content"]) for r in plain] == [33, 33, 33]


def test_synthetic_without_a_tokenizer_is_bad_input():
    with pytest.raises(BadInput, match="needs the model's tokenizer"):
        requests_for(LoadWorkload(kind="synthetic", input_len=10), [], 2, None)


def test_jsonl_and_sharegpt_datasets(tmp_path):
    jsonl = tmp_path / "d.jsonl"
    rows = [{"prompt": "hi", "output_tokens": 7}, {"messages": [{"role": "user", "content": "x"}]}]
    jsonl.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    requests = requests_for(LoadWorkload(kind="jsonl", path=str(jsonl), output_len=9), [], 3, None)
    assert [r.output_tokens for r in requests] == [7, 9, 7]  # cycled
    assert requests[0].messages == [{"role": "user", "content": "hi"}]
    share = tmp_path / "sharegpt.json"
    share.write_text(json.dumps([
        {"conversations": [{"from": "human", "value": "tell"}, {"from": "gpt", "value": "a b c"}]},
        {"conversations": [{"from": "gpt", "value": "no human"}]},
    ]))  # fmt: skip
    spec = LoadWorkload(kind="sharegpt", path=str(share), output_len=5)
    (first,) = requests_for(spec, [], 1, lambda text: len(text.split()))
    assert first.messages[0]["content"] == "tell" and first.output_tokens == 3
    body = payloads([first], "m", None)[0]
    assert body["max_tokens"] == 3 and body["ignore_eos"] and body["model"] == "m"


def test_bad_dataset_lines_are_bad_input(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\nnot json\n')
    with pytest.raises(BadInput, match="bad.jsonl:2: not a JSON object"):
        requests_for(LoadWorkload(kind="jsonl", path=str(bad)), [], 1, None)
    bad.write_text('{"text": "no prompt"}\n')
    with pytest.raises(BadInput, match="neither 'prompt' nor 'messages'"):
        requests_for(LoadWorkload(kind="jsonl", path=str(bad)), [], 1, None)


def test_a_trace_is_sorted_by_timestamp_and_starts_at_zero(tmp_path):
    path = tmp_path / "trace.jsonl"
    rows = [{"prompt": "b", "timestamp": 1250}, {"prompt": "a", "timestamp": 1000.0},
            {"prompt": "c", "timestamp": 4000, "output_tokens": 3}]  # fmt: skip
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    spec = LoadWorkload(kind="jsonl", path=str(path), output_len=9)
    requests = trace(spec, None)
    assert [r.messages[0]["content"] for r in requests] == ["a", "b", "c"]
    assert [r.at_s for r in requests] == [0.0, 0.25, 3.0]
    assert [r.output_tokens for r in requests] == [9, 9, 3]
    assert [r.at_s for r in trace(spec, 2)] == [0.0, 0.25]
    with pytest.raises(BadInput, match="the trace .* has 3 entries"):
        trace(spec, 4)


def test_a_trace_needs_a_valid_timestamp_on_every_entry(tmp_path):
    path = tmp_path / "trace.jsonl"
    path.write_text('{"prompt": "a", "timestamp": 0}\n{"prompt": "b"}\n')
    with pytest.raises(BadInput, match="entry 2 has no 'timestamp'"):
        trace(LoadWorkload(kind="jsonl", path=str(path)), None)
    path.write_text('{"prompt": "a", "timestamp": -5}\n')
    with pytest.raises(BadInput, match="timestamp must be a number of ms"):
        trace(LoadWorkload(kind="jsonl", path=str(path)), None)
