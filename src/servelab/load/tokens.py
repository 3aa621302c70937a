"""Exact input lengths in the model's own tokens.

A counter says how many tokens a text is, without special tokens or a chat template: the model's
``tokenizer.json`` through the ``tokenizers`` package (the ``tokenizer`` extra), or the server's
tokenize endpoint when its engine has one. ``exact_text`` builds text of exactly N tokens.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import httpx

from servelab.endpoint import auth_headers
from servelab.errors import BadInput, RunFailed

Counter = Callable[[str], int]
_FILLERS = (" a", " the", " and", " of", " to", " in", " it", " is", ".", ",")


def local_counter(path: str | Path) -> Counter:
    """Count with a ``tokenizer.json`` (a file or the folder holding it)."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise BadInput(
            "needs the 'tokenizers' package: pip install 'servelab[tokenizer]'", field="tokenizer"
        ) from None
    file = Path(path)
    file = file / "tokenizer.json" if file.is_dir() else file
    if not file.is_file():
        raise BadInput("no tokenizer.json there", field="tokenizer", value=path)
    try:
        tokenizer = Tokenizer.from_file(str(file))
    except Exception as exc:  # the Rust side raises its own exception type
        raise BadInput(f"cannot load {file}: {exc}", field="tokenizer", value=path) from None
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


def server_counter(engine, url: str, model: str, api_key: str | None) -> Counter | None:
    """Count with the server's tokenize endpoint; None when its engine has none."""
    request = engine.tokenize_request(model, "probe") if engine is not None else None
    if request is None:
        return None
    path = request[0]
    http = httpx.Client(base_url=url.rstrip("/"), headers=auth_headers(api_key), timeout=30.0)

    def count(text: str) -> int:
        body = engine.tokenize_request(model, text)[1]
        try:
            answer = http.post(path, json=body)
            answer.raise_for_status()
            value = engine.tokenize_count(answer.json())
        except (httpx.HTTPError, ValueError) as exc:
            raise RunFailed(f"{url}{path}: cannot count tokens ({exc})") from None
        if value is None:
            raise RunFailed(f"{url}{path}: the answer has no token list")
        return value

    return count


def _shortest_reaching(words: list[str], target: int, count: Counter) -> int:
    """The fewest leading words whose text has ≥ ``target`` tokens (binary search)."""
    low, high = 0, len(words)
    while low < high:
        middle = (low + high) // 2
        if count(" ".join(words[:middle])) >= target:
            high = middle
        else:
            low = middle + 1
    return low


def exact_text(target: int, count: Counter, vocabulary: list[str], rng: random.Random) -> str:
    """Random words of ``vocabulary`` making exactly ``target`` tokens."""
    if target <= 0:
        return ""
    words = [rng.choice(vocabulary) for _ in range(2 * target + 8)]
    while count(" ".join(words)) < target:
        words += [rng.choice(vocabulary) for _ in range(target)]
    keep = _shortest_reaching(words, target, count)
    text = " ".join(words[:keep])
    if count(text) == target:
        return text
    text = " ".join(words[: keep - 1])
    for _ in range(4 * target + 16):
        have = count(text)
        if have == target:
            return text
        options = [text + filler for filler in _FILLERS]
        fits = [option for option in options if count(option) <= target]
        if not fits:
            break
        text = max(fits, key=count)
    raise RunFailed(f"cannot build a text of exactly {target} tokens with this tokenizer")
