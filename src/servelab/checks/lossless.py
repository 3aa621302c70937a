"""Lossless check: greedy fixed-length outputs with and without speculation must be identical.

Rule: a prompt diverges when its text or its token count (usage.completion_tokens) differs
between the two servers; the check passes when divergent prompts ≤ the tolerance (default 0)
and every request succeeded. Engines are not bit-deterministic, hence the tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from servelab.checks.chat import ChatClient
from servelab.engines.base import Engine, fixed_length_fields
from servelab.records import CheckResult

PROMPTS = (
    "Once upon a time",
    "Tom and his dog went to the park.",
    "Lily found a shiny red ball in the garden.",
    "The little bird wanted to fly over the sea.",
    "Write a short story about a kind dragon.",
)
DEFAULT_TOKENS = 128
SNIPPET = 40


@dataclass
class Output:
    """One greedy generation and what the server said about it."""

    prompt: str
    text: str | None = None
    tokens: int | None = None
    drafted: int | None = None
    accepted: int | None = None
    error: str | None = None


def generate(
    client: ChatClient, engine: Engine | None, tokens: int, prompts: tuple[str, ...] = PROMPTS
) -> list[Output]:
    """Greedy (temperature 0), exactly ``tokens`` tokens per prompt (EOS ignored).

    ``engine`` None (an endpoint of unknown make) sends the common fixed-length fields.
    """
    fields = {**fixed_length_fields(engine, tokens), "temperature": 0, "seed": 0}
    outputs = []
    for text in prompts:
        reply = client.chat([{"role": "user", "content": text}], **fields)
        if not reply.ok:
            outputs.append(Output(text, error=reply.error))
            continue
        spec = engine.spec_from_response(reply.body) if engine else None
        outputs.append(
            Output(
                text,
                text=reply.content,
                tokens=reply.usage.get("completion_tokens"),
                drafted=spec[0] if spec else None,
                accepted=spec[1] if spec else None,
            )
        )
    return outputs


def first_divergence(left: str, right: str) -> int | None:
    """Character offset of the first difference (None when identical)."""
    for index, (a, b) in enumerate(zip(left, right, strict=False)):
        if a != b:
            return index
    return None if len(left) == len(right) else min(len(left), len(right))


def _snippet(text: str, at: int) -> str:
    return text[max(0, at - 10) : at + SNIPPET]


def _compare_one(spec: Output, base: Output, tokens: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "prompt": spec.prompt,
        "requested_tokens": tokens,
        "spec_tokens": spec.tokens,
        "base_tokens": base.tokens,
        "drafted": spec.drafted,
        "accepted": spec.accepted,
    }
    if spec.error or base.error:
        return {**item, "identical": False, "error": spec.error or base.error}
    at = first_divergence(spec.text or "", base.text or "")
    identical = at is None and spec.tokens == base.tokens
    item.update(
        identical=identical,
        first_divergence=at,
        short=(spec.tokens or 0) < tokens or (base.tokens or 0) < tokens,
    )
    if at is None:
        item["text"] = (spec.text or "")[: SNIPPET * 2]
    else:
        item["spec_snippet"] = _snippet(spec.text or "", at)
        item["base_snippet"] = _snippet(base.text or "", at)
    return item


def compare(spec: list[Output], base: list[Output], tokens: int, tolerance: int = 0) -> CheckResult:
    """Pair the outputs prompt by prompt and apply the tolerance rule."""
    evidence = [_compare_one(s, b, tokens) for s, b in zip(spec, base, strict=True)]
    errors = [item for item in evidence if item.get("error")]
    divergent = [item for item in evidence if not item["identical"] and not item.get("error")]
    total = len(evidence)
    counts = ", ".join(f"{item['spec_tokens']}/{item['base_tokens']}" for item in evidence)
    drafted = sum(item["drafted"] or 0 for item in evidence)
    accepted = sum(item["accepted"] or 0 for item in evidence)
    parts = [
        f"{total - len(divergent) - len(errors)} of {total} prompts identical",
        f"tokens spec/base: {counts}",
    ]
    if any(item["drafted"] is not None for item in evidence):
        parts.append(f"drafted {drafted}, accepted {accepted}")
    if divergent:
        first = divergent[0]
        parts.append(
            f"first divergence: prompt {first['prompt']!r} at char "
            f"{first['first_divergence']}: spec {first.get('spec_snippet')!r} vs "
            f"base {first.get('base_snippet')!r}"
        )
    if any(item.get("short") for item in evidence):
        parts.append(f"some outputs are shorter than {tokens} tokens")
    if errors:
        parts.append(f"request failed: {errors[0]['error']}")
    parts.append(f"rule: divergent prompts ≤ {tolerance}")
    passed = not errors and len(divergent) <= tolerance
    return CheckResult(name="lossless", passed=passed, detail="; ".join(parts), evidence=evidence)
