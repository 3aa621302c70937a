"""The recipe loader's limits (issue 17, items 4, 6 and 7): every hostile file is one line of bad
input naming the file, rejected before anything expands it."""

from __future__ import annotations

import resource
import time

import pytest

from servelab.errors import BadInput
from servelab.recipe import load_recipe, recipe_from_text
from servelab.safe_yaml import MAX_BYTES

GOOD = "name: t\nengine: {name: llamacpp}\nmodel: {id: stories260k, file: stories260k.gguf}\n"


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The billion-laughs shape: each level lists the previous one ``width`` times."""
    lines = ['a0: &a0 ["lol"]']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def _rejects(text: str, expected: str, source: str = "r.yaml") -> str:
    with pytest.raises(BadInput) as info:
        recipe_from_text(text, source)
    message = str(info.value)
    assert message.startswith(f"{source}: ") and "\n" not in message
    assert expected in message, message
    return message


def test_alias_bomb_is_rejected_fast_and_small():
    """Item 4: a ~500-byte bomb took `show` 37.6 s and 6.24 GB."""
    text = GOOD + alias_bomb()
    assert len(text) < 700
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    _rejects(text, "more than 64 aliases")
    # Under the alias count, the expansion limit still catches it (10**6 values from 60 refs).
    _rejects(GOOD + alias_bomb(levels=6, width=10), "expands to more than 20000 values")
    assert time.perf_counter() - started < 1.0
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert grown_kib < 100 * 1024


def test_alias_bomb_inside_speculative_extra_is_rejected():
    """Item 4: a bomb inside speculative.extra used to be accepted."""
    bomb = alias_bomb(levels=8).replace("\n", "\n  ").rstrip()
    text = GOOD + "speculative:\n  method: ngram\n  extra:\n    " + bomb.replace("\n", "\n  ")
    _rejects(text, "aliases")


def test_a_few_aliases_are_fine_many_are_refused():
    reused = GOOD + "notes: &n [a, b]\nextra_args: *n\n"
    assert recipe_from_text(reused, "r.yaml").extra_args == ["a", "b"]
    _rejects(GOOD + "notes: &n [a]\nextra_args: [" + "*n, " * 65 + "]\n", "more than 64 aliases")


def test_recursive_alias_is_refused():
    _rejects(GOOD + "notes: &n [*n]\n", "refers to itself")


def test_deep_nesting_is_bad_input():
    """Item 6: ~1,000 levels of nesting crashed with a RecursionError ("unexpected error")."""
    _rejects(GOOD + "notes: " + "[" * 1000 + "]" * 1000 + "\n", "nested deeper than")
    _rejects(GOOD + "notes: " + "{a: " * 1000 + "1" + "}" * 1000 + "\n", "nested deeper than")


def test_duplicate_keys_are_refused():
    """Item 7: a second `server:` block silently bound 0.0.0.0."""
    text = GOOD + "server: {host: 127.0.0.1}\nserver: {host: 0.0.0.0}\n"
    _rejects(text, "duplicate key 'server' at line 5")
    _rejects(GOOD.replace("name: t", "name: t\nname: u"), "duplicate key 'name'")
    _rejects(GOOD + "context: {max_model_len: 1, max_model_len: 2}\n", "duplicate key")


def test_merge_keys_are_not_duplicates():
    text = GOOD + (
        "speculative: {method: ngram, extra: &e {max_num_seqs: 2}}\n"
        "limits: {<<: *e, max_num_batched_tokens: 8}\n"
    )
    assert recipe_from_text(text, "r.yaml").limits.max_num_seqs == 2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (GOOD.encode("utf-16"), "UTF-16/UTF-32 text"),
        (GOOD.encode("utf-16-be"), "NUL byte at offset 0"),
        (GOOD.encode() + b"notes: [\xff\xfe]\n", "not UTF-8 text (byte 0xff at offset"),
        (GOOD.encode("latin-1") + "notes: [café]\n".encode("latin-1"), "not UTF-8 text"),
        (GOOD.encode() + b"notes: [a\x00b]\n", "NUL byte at offset"),
        (b"x" * (MAX_BYTES + 1), "larger than"),
    ],
    ids=["utf16-bom", "utf16-no-bom", "bad-bytes", "latin1", "nul", "too-big"],
)
def test_undecodable_files_name_the_file(tmp_path, raw, expected):
    """Item 6: non-UTF-8, UTF-16 and byte-flipped files ended in "unexpected error"."""
    path = tmp_path / "enc.yaml"
    path.write_bytes(raw)
    with pytest.raises(BadInput) as info:
        load_recipe(path)
    assert str(info.value).startswith(f"{path}: ") and expected in str(info.value)


def test_lone_surrogate_names_the_key():
    """Item 6: a `"\\ud800"` escape made a string that cannot be printed or passed to exec."""
    _rejects(GOOD.replace("id: stories260k,", 'id: "a\\ud800b",'), "model.id: not valid Unicode")


def test_nul_escape_names_the_key():
    """Item 7: a NUL from an escape was accepted and then crashed `up`."""
    _rejects(GOOD + 'extra_args: ["--x\\0y"]\n', "extra_args[0]: contains a NUL")


def test_huge_integer_literal_is_bad_input():
    """Item 6: integers past Python's 4300-digit conversion limit ended in "unexpected error"."""
    _rejects(GOOD + "context: {max_model_len: " + "9" * 5000 + "}\n", "unreadable value")


def test_a_megabyte_model_id_is_bad_input():
    """Item 6: a 1 MB model.id ended in "unexpected error"."""
    message = _rejects(GOOD.replace("id: stories260k", "id: " + "x" * 1_000_000), "larger than")
    assert len(message) < 300
    _rejects(GOOD.replace("id: stories260k", "id: " + "x" * 70_000), "model.id: text longer")
    _rejects(
        GOOD.replace("id: stories260k", "id: " + "x" * 5000),
        "model.id: string should have at most 4096 characters",
    )
