"""Prompt workloads: each has a stable id and the sha256 of the exact messages sent.

Bundled: ``space-invaders`` (default; the post's single-file HTML game), ``prose`` and ``json``
(speculative acceptance depends strongly on what is written), ``story`` (a short opening that
leaves room to generate within a 512-token training window). ``@FILE`` loads a text file (one
user message) or a JSON file holding a message list or ``{"messages": [...]}``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from servelab.errors import BadInput
from servelab.options import DEFAULTS

DEFAULT_WORKLOAD = DEFAULTS.workload
# name → (file under data/, revision); bump the revision whenever a prompt's text changes.
BUNDLED: dict[str, tuple[str, int]] = {
    "space-invaders": ("space-invaders.txt", 1),
    "prose": ("prose.txt", 1),
    "json": ("json.txt", 1),
    # A story opening short enough for tiny models trained on 512-token windows (stories260k).
    "story": ("story.txt", 1),
}


@dataclass(frozen=True)
class Workload:
    """The messages of a bench request, with a stable id and their content hash."""

    id: str
    name: str
    messages: list[dict[str, Any]] = field(hash=False)
    hash: str


def messages_hash(messages: list[dict[str, Any]]) -> str:
    """sha256 (hex) of the messages as canonical JSON (sorted keys, no spaces, UTF-8)."""
    canonical = json.dumps(messages, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def make_workload(name: str, messages: list[dict[str, Any]], id: str | None = None) -> Workload:
    digest = messages_hash(messages)
    return Workload(id=id or f"{name}-{digest[:12]}", name=name, messages=messages, hash=digest)


def list_workloads() -> list[str]:
    """Names of the bundled workloads."""
    return list(BUNDLED)


def _bundled(name: str) -> Workload:
    filename, revision = BUNDLED[name]
    text = resources.files("servelab.workloads").joinpath("data", filename).read_text("utf-8")
    return make_workload(name, [{"role": "user", "content": text.strip()}], f"{name}-v{revision}")


def _messages_from_json(data: Any, path: Path) -> list[dict[str, Any]]:
    messages = data.get("messages") if isinstance(data, dict) else data
    if not isinstance(messages, list) or not messages:
        raise BadInput(f'{path}: expected a JSON list of messages or {{"messages": [...]}}')
    for index, message in enumerate(messages):
        if not (isinstance(message, dict) and "role" in message and "content" in message):
            raise BadInput(f"{path}: messages[{index}] needs 'role' and 'content'")
    return messages


def _from_file(path: Path) -> Workload:
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise BadInput(f"{path}: prompt file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read the prompt file ({exc})") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise BadInput(f"{path}: not valid JSON ({exc})") from None
        messages = _messages_from_json(data, path)
    else:
        if not text.strip():
            raise BadInput(f"{path}: the prompt file is empty")
        messages = [{"role": "user", "content": text.strip()}]
    return make_workload(path.stem, messages)


def get_workload(name_or_file: str | None = None) -> Workload:
    """A bundled workload by name, or ``@FILE``; None gives the default (space-invaders)."""
    spec = name_or_file or DEFAULT_WORKLOAD
    if spec.startswith("@"):
        return _from_file(Path(spec[1:]).expanduser())
    if spec not in BUNDLED:
        known = ", ".join(BUNDLED)
        raise BadInput(
            f"unknown workload {spec!r} (expected one of {known} or @FILE)", field="workload"
        )
    return _bundled(spec)
