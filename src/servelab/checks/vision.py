"""Vision check: name the colour of solid-colour PNGs; every answer must be right."""

from __future__ import annotations

import re
from typing import Any

from servelab.checks.chat import ChatClient
from servelab.records import CheckResult
from servelab.workloads.images import COLOURS, image_part, solid_png

QUESTION = "What color is this image? One word."
TWO_QUESTION = "What are the two colors, in order?"
ANSWER_TOKENS = 64

# (colour, size): the post's 64×64 squares plus one larger image.
IMAGES: list[tuple[str, int]] = [
    ("red", 64),
    ("green", 64),
    ("blue", 64),
    ("yellow", 64),
    ("green", 512),
]
PAIR: tuple[str, str] = ("yellow", "blue")

# Words that name a colour → the canonical colour (others are named so wrong answers count).
_SYNONYMS: dict[str, str] = {
    "red": "red",
    "crimson": "red",
    "scarlet": "red",
    "green": "green",
    "lime": "green",
    "blue": "blue",
    "azure": "blue",
    "yellow": "yellow",
    "gold": "yellow",
    "golden": "yellow",
    "lemon": "yellow",
    "orange": "orange",
    "purple": "purple",
    "violet": "purple",
    "pink": "pink",
    "magenta": "magenta",
    "cyan": "cyan",
    "white": "white",
    "black": "black",
    "gray": "gray",
    "grey": "gray",
    "brown": "brown",
}


def colours_named(answer: str) -> list[str]:
    """Canonical colours an answer names, in order of first mention (case/punctuation-free)."""
    named: list[str] = []
    for word in re.findall(r"[a-z]+", answer.lower()):
        colour = _SYNONYMS.get(word)
        if colour and colour not in named:
            named.append(colour)
    return named


def names_exactly(answer: str, expected: list[str]) -> bool:
    """True when the answer names exactly these colours, in this order, and no other."""
    return colours_named(answer) == expected


def _ask(client: ChatClient, question: str, pngs: list[bytes]) -> tuple[str | None, str | None]:
    """(answer, error) for one question about one or more images."""
    content: list[dict[str, Any]] = [{"type": "text", "text": question}]
    content += [image_part(png) for png in pngs]
    reply = client.chat(
        [{"role": "user", "content": content}], temperature=0, max_tokens=ANSWER_TOKENS
    )
    if not reply.ok:
        return None, reply.error
    return reply.content, None


def check_vision(client: ChatClient, max_images: int | None = None) -> CheckResult:
    """Ask the colour of each image; with ``max_images`` ≥ 2 also a two-image question."""
    evidence: list[dict[str, Any]] = []
    for colour, size in IMAGES:
        answer, error = _ask(client, QUESTION, [solid_png(COLOURS[colour], size)])
        item = {"image": f"{colour} {size}x{size}", "expected": colour, "answer": answer}
        if error:
            evidence.append({**item, "correct": False, "error": error})
            return CheckResult(
                name="vision",
                passed=False,
                evidence=evidence,
                detail=f"the server rejected an image request ({error})",
            )
        evidence.append({**item, "correct": names_exactly(answer or "", [colour])})
    wrong = [item for item in evidence if not item["correct"]]
    notes = []
    if max_images is not None and max_images >= 2:
        pngs = [solid_png(COLOURS[colour], 64) for colour in PAIR]
        answer, error = _ask(client, TWO_QUESTION, pngs)
        correct = error is None and names_exactly(answer or "", list(PAIR))
        item = {
            "image": " + ".join(f"{c} 64x64" for c in PAIR),
            "expected": ", ".join(PAIR),
            "answer": answer,
            "correct": correct,
        }
        evidence.append({**item, "error": error} if error else item)
        if not correct:
            wrong.append(item)
        notes.append(f"two-image request {'answered in order' if correct else 'failed'}")
    else:
        notes.append("two-image request skipped (the recipe allows fewer than 2 images)")
    asked = len(evidence)
    if wrong:
        shown = "; ".join(f"{item['image']}: {_short(item['answer'])!r}" for item in wrong[:3])
        detail = f"{len(wrong)} of {asked} answers wrong ({shown})"
    else:
        detail = f"{asked} of {asked} colours named correctly"
    return CheckResult(
        name="vision", passed=not wrong, detail=f"{detail}; {notes[0]}", evidence=evidence
    )


def _short(text: str | None, limit: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
