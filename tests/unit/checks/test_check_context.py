"""Context check: haystack building, target lengths, recall via the scripted server."""

from __future__ import annotations

import random
import re

from servelab.checks.chat import ChatClient
from servelab.checks.context import (
    DEPTHS,
    Needle,
    check_context,
    default_target,
    filler,
    haystack,
    headroom,
)
from tests.fakes.scripted_server import ScriptedServer


def _run(mode: str, target: int, **kwargs):
    with ScriptedServer(mode) as server, ChatClient(server.url, server.model) as client:
        return check_context(client, target, rng=random.Random(3), **kwargs), server


def test_filler_has_no_digits_and_ends_at_a_sentence():
    text = filler(5000)
    assert 4900 < len(text) <= 5000
    assert not re.search(r"\d", text)
    assert text.endswith(". ")


def test_needle_lands_at_its_depth():
    text = filler(10_000)
    needle = Needle("amber", "1234").sentence
    for depth in DEPTHS:
        at = haystack(text, needle, depth).index(needle) / len(text)
        assert abs(at - depth) < 0.02


def test_target_is_served_length_minus_headroom():
    assert headroom(512) == 128 and default_target(512) == 384
    assert default_target(131072) == 131072 - 512
    assert default_target(None) == 4096


def test_recall_at_every_depth_passes_and_lengths_are_measured():
    result, server = _run("correct", 2000)
    assert result.passed, result.detail
    assert [item["depth"] for item in result.evidence] == list(DEPTHS)
    for item in result.evidence:
        assert item["found"] and item["answer"] in item["needle"]
        assert abs(item["prompt_tokens"] - 2000) / 2000 < 0.1
    assert server.requests[0]["max_tokens"] == 1  # the calibration probe


def test_a_model_that_forgets_fails():
    result, _ = _run("wrong", 1000)
    assert not result.passed
    assert "needle recalled 0 of 3" in result.detail


def test_past_native_context_warns_and_tests_both_sides():
    result, _ = _run("correct", 3000, native=2048, both_sides=True)
    assert "warning: 3000 tokens is past the model's native context 2048" in result.detail
    sides = [(item["target_tokens"], item["side"]) for item in result.evidence]
    assert sides == [(1920, "within native")] * 3 + [(3000, "past native")] * 3
    assert result.passed


def test_within_native_context_one_side_only():
    result, _ = _run("correct", 1000, native=2048, both_sides=True)
    assert "warning" not in result.detail
    assert "one side tested" in result.detail
    assert len(result.evidence) == 3
