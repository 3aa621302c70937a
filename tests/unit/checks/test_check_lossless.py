"""Lossless check: divergence finding, the tolerance rule, and the real draft-model recipe."""

from __future__ import annotations

import json

import pytest

from servelab.checks.chat import ChatClient
from servelab.checks.lossless import PROMPTS, Output, compare, first_divergence, generate
from tests.fakes.scripted_server import ScriptedServer


def test_first_divergence_is_a_character_offset():
    assert first_divergence("abc", "abc") is None
    assert first_divergence("abcd", "abXd") == 2
    assert first_divergence("abc", "abcdef") == 3


def test_generation_is_greedy_and_fixed_length():
    with ScriptedServer("correct") as server, ChatClient(server.url, server.model) as client:
        outputs = generate(client, None, 32)
    assert [out.tokens for out in outputs] == [32] * len(PROMPTS)
    request = server.requests[0]
    assert request["temperature"] == 0
    assert request["max_tokens"] == 32 and request["ignore_eos"] is True


def _pair(tokens: int = 64) -> tuple[list[Output], list[Output]]:
    with (
        ScriptedServer("diverge") as spec,
        ScriptedServer("correct") as base,
        ChatClient(spec.url, spec.model) as spec_client,
        ChatClient(base.url, base.model) as base_client,
    ):
        return generate(spec_client, None, tokens), generate(base_client, None, tokens)


def test_a_divergent_prompt_fails_and_is_located():
    spec, base = _pair()
    result = compare(spec, base, 64)
    assert not result.passed
    bad = [item for item in result.evidence if not item["identical"]]
    assert [item["prompt"] for item in bad] == [PROMPTS[1]]
    offset = bad[0]["first_divergence"]
    assert base[1].text[:offset] == spec[1].text[:offset]
    assert "DIFFERENT" in bad[0]["spec_snippet"]
    assert f"at char {offset}" in result.detail
    assert "4 of 5 prompts identical" in result.detail


def test_tolerance_allows_that_many_divergent_prompts():
    spec, base = _pair()
    result = compare(spec, base, 64, tolerance=1)
    assert result.passed
    assert "rule: divergent prompts ≤ 1" in result.detail


def test_token_count_mismatch_and_errors_count():
    same = "once upon a time"
    spec = [Output("p", text=same, tokens=10), Output("q", error="HTTP 500: boom")]
    base = [Output("p", text=same, tokens=9), Output("q", text="x", tokens=10)]
    result = compare(spec, base, 10, tolerance=5)
    assert not result.passed  # a failed request is never tolerated
    assert result.evidence[0]["identical"] is False and result.evidence[0]["short"] is True
    assert "request failed: HTTP 500: boom" in result.detail


@pytest.mark.llama
@pytest.mark.engine
def test_real_draft_model_recipe_is_lossless(run_cli, tmp_path):
    db = tmp_path / "results.db"
    done = run_cli(
        "check",
        "local-stories260k-draft",
        "--only",
        "lossless",
        "--tokens",
        "96",
        "--json",
        "-",
        "--db",
        str(db),
    )
    assert done.returncode == 0, done.stderr
    check = json.loads(done.stdout)["checks"][0]
    assert check["name"] == "lossless" and check["passed"]
    assert "tokens spec/base: " + ", ".join(["96/96"] * len(PROMPTS)) in check["detail"]
    for item in check["evidence"]:
        assert item["identical"] and item["spec_tokens"] == item["base_tokens"] == 96
        assert item["drafted"] > 0 and item["accepted"] <= item["drafted"]
    assert db.exists()
