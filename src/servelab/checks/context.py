"""Context check: needle-in-a-haystack recall at 10/50/90 % depth of a target length.

Lengths are measured in the server's own tokens (``usage.prompt_tokens``): one probe request
calibrates how many characters of filler make a token, the real requests report what they cost.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from servelab.checks.chat import ChatClient
from servelab.records import CheckResult

DEPTHS = (0.10, 0.50, 0.90)
ANSWER_TOKENS = 64
UNKNOWN_MAX_LEN_TARGET = 4096
RETRIES = 3

_FILLER = (
    "The garden behind the old library was quiet in the morning. ",
    "A gardener watered the roses along the stone wall. ",
    "Birds moved between the hedges and the fountain. ",
    "Visitors walked slowly on the gravel paths and read the small signs. ",
    "The wind carried the smell of cut grass across the lawn. ",
    "Near the gate a bench stood in the shade of a chestnut tree. ",
    "Clouds drifted over the roofs and the light changed from grey to gold. ",
    "In the afternoon the paths filled with families and their dogs. ",
)
_WORDS = ("amber", "cobalt", "harbor", "lantern", "meadow", "quartz", "saffron", "willow")
INSTRUCTION = "Read the text below, then answer the question after it.\n\n"
QUESTION = (
    "\n\nQuestion: what is the secret passphrase stated in the text above? "
    "Reply with the passphrase only."
)


def headroom(max_len: int) -> int:
    """Tokens left free for the chat template and the answer."""
    return min(512, max(2 * ANSWER_TOKENS, max_len // 16))


def default_target(max_len: int | None) -> int:
    """The served context minus headroom (a modest default when the server does not say)."""
    if max_len is None:
        return UNKNOWN_MAX_LEN_TARGET
    return max_len - headroom(max_len)


def filler(chars: int) -> str:
    """Bland text without digits, ``chars`` characters long (cut at a sentence end)."""
    sentences: list[str] = []
    total = 0
    index = 0
    while total < chars:
        sentence = _FILLER[index % len(_FILLER)]
        sentences.append(sentence)
        total += len(sentence)
        index += 1
    text = "".join(sentences)
    cut = text.rfind(". ", 0, max(chars, 2)) + 2
    return text[:cut] if cut > 1 else text[:chars]


def haystack(filler_text: str, needle: str, depth: float) -> str:
    """The filler with the needle sentence inserted at ``depth`` (a sentence boundary)."""
    at = int(len(filler_text) * depth)
    boundary = filler_text.rfind(". ", 0, at)
    at = boundary + 2 if boundary >= 0 else 0
    return filler_text[:at] + needle + " " + filler_text[at:]


def prompt(filler_text: str, needle: str, depth: float) -> str:
    return INSTRUCTION + haystack(filler_text, needle, depth) + QUESTION


@dataclass
class Needle:
    word: str
    number: str

    @property
    def sentence(self) -> str:
        return f"The secret passphrase is {self.word}-{self.number}."

    def found_in(self, answer: str) -> bool:
        return self.number in answer and self.word in answer.lower()


def _chars_per_token(client: ChatClient, target: int) -> tuple[float | None, str | None]:
    """One probe request (a shorter second one if refused): characters per prompt token."""
    for chars in (max(target, 200), max(target // 4, 200)):
        text = prompt(filler(chars), Needle("probe", "0000").sentence, 0.5)
        reply = client.chat([{"role": "user", "content": text}], temperature=0, max_tokens=1)
        if reply.ok:
            break
    else:
        return None, f"the calibration probe was refused ({reply.error})"
    tokens = reply.usage.get("prompt_tokens")
    if not isinstance(tokens, int) or tokens <= 0:
        return None, "the server reports no usage.prompt_tokens to measure the length with"
    return len(text) / tokens, None


def _recall(
    client: ChatClient, target: int, chars_per_token: float, depth: float, needle: Needle
) -> dict[str, Any]:
    """One haystack request; shrinks the filler when the server says it is too long."""
    fixed = len(INSTRUCTION) + len(QUESTION) + len(needle.sentence)
    chars = max(int(target * chars_per_token) - fixed, 100)
    item: dict[str, Any] = {"depth": depth, "target_tokens": target, "needle": needle.sentence}
    for _ in range(RETRIES):
        text = prompt(filler(chars), needle.sentence, depth)
        reply = client.chat(
            [{"role": "user", "content": text}], temperature=0, max_tokens=ANSWER_TOKENS
        )
        if reply.ok:
            answer = reply.content
            item.pop("error", None)
            return {
                **item,
                "prompt_tokens": reply.usage.get("prompt_tokens"),
                "answer": answer,
                "found": needle.found_in(answer),
            }
        item["error"] = reply.error
        chars = int(chars * 0.9)
    return {**item, "prompt_tokens": None, "answer": None, "found": False}


def check_context(
    client: ChatClient,
    target: int,
    *,
    native: int | None = None,
    both_sides: bool = False,
    rng: random.Random | None = None,
) -> CheckResult:
    """Recall a needle at each depth of ``target`` tokens (and inside ``native`` if asked)."""
    rng = rng or random.Random()
    lengths = [target]
    notes: list[str] = []
    if native is not None and target > native:
        notes.append(
            f"warning: {target} tokens is past the model's native context {native} (RoPE scaling)"
        )
        if both_sides:
            lengths.insert(0, native - headroom(native))
    elif both_sides:
        notes.append(
            "both sides: "
            + (
                "the native context is unknown"
                if native is None
                else f"the target is within the native context {native}"
            )
            + "; one side tested"
        )
    rate, problem = _chars_per_token(client, target)
    if problem:
        return CheckResult(name="context", passed=False, detail=problem)
    evidence = []
    for length in lengths:
        for depth in DEPTHS:
            needle = Needle(rng.choice(_WORDS), f"{rng.randint(1000, 9999)}")
            item = _recall(client, length, rate, depth, needle)
            if native is not None:
                item["side"] = "past native" if length > native else "within native"
            evidence.append(item)
    found = [item for item in evidence if item["found"]]
    parts = [
        f"{length} tokens: "
        + " ".join(
            f"{int(item['depth'] * 100)}%{'✓' if item['found'] else '✗'}"
            for item in evidence
            if item["target_tokens"] == length
        )
        for length in lengths
    ]
    detail = f"needle recalled {len(found)} of {len(evidence)} ({'; '.join(parts)})"
    errors = [item["error"] for item in evidence if item.get("error") and not item["found"]]
    if errors:
        detail += f"; server error: {errors[0]}"
    return CheckResult(
        name="context",
        passed=len(found) == len(evidence),
        detail="; ".join([detail, *notes]),
        evidence=evidence,
    )
