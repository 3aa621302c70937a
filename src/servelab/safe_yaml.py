"""Untrusted YAML in, plain data out, with limits checked before anything is expanded.

A recipe is a small file; this loader keeps it that way. It refuses, as one-line bad input
naming the file (and key where known):
- more than ``MAX_BYTES`` bytes, bytes that are not UTF-8 (UTF-16/32 included), NUL bytes;
- nesting deeper than ``MAX_DEPTH``; more than ``MAX_ALIASES`` alias uses; a document whose
  expanded size (every alias counted as a full copy) passes ``MAX_NODES`` — so an alias bomb is
  rejected while it is still a few hundred nodes, before anything walks its expansion;
- duplicate keys in a mapping (a second ``server:`` block would silently win otherwise);
- strings longer than ``MAX_STRING`` characters, and strings that are not valid Unicode text
  (lone surrogates from ``"\\ud800"`` escapes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from servelab.errors import BadInput

MAX_BYTES = 256 * 1024
MAX_DEPTH = 32
MAX_ALIASES = 64
MAX_NODES = 20_000
MAX_STRING = 64 * 1024


class _Limited(yaml.SafeLoader):
    """SafeLoader that counts depth and aliases while composing, and refuses duplicate keys."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _Refused(f"more than {MAX_ALIASES} aliases (*name)")
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                mark = key_node.start_mark
                raise _Refused(
                    f"duplicate key {str(key)[:60]!r} at line {mark.line + 1} "
                    "(a later value would silently replace the earlier one)"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class _Refused(Exception):
    """A limit was passed (carries the one-line reason)."""


def _expanded_size(root: Node) -> int:
    """Nodes in the document with every alias expanded, counted on the shared graph (memo), so
    counting costs what the file costs, not what its expansion would."""
    memo: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            total = 1 + sum(memo[id(child)] for child in _children(node))
            memo[id(node)] = min(total, MAX_NODES + 1)
            open_nodes.discard(id(node))
            continue
        if id(node) in memo:
            continue
        if id(node) in open_nodes:
            raise _Refused("an alias refers to itself (a recursive structure)")
        if isinstance(node, ScalarNode):
            memo[id(node)] = 1
            continue
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in memo)
    return memo[id(root)]


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def decode(raw: bytes, source: str) -> str:
    """UTF-8 text of a recipe file, or one line saying why it is not."""
    if len(raw) > MAX_BYTES:
        raise BadInput(f"{source}: larger than {MAX_BYTES // 1024} KiB; not a recipe")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or raw[:4] in (b"\x00\x00\xfe\xff",):
        raise BadInput(f"{source}: UTF-16/UTF-32 text; save the recipe as UTF-8")
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    nul = raw.find(b"\x00")
    if nul != -1:
        raise BadInput(f"{source}: NUL byte at offset {nul}; a recipe is UTF-8 text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(
            f"{source}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None


def read_text(path: Path) -> str:
    """A recipe file's text (size-limited read, strict UTF-8)."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise BadInput(f"{path}: cannot read ({exc.strerror or exc})") from None
    return decode(raw, str(path))


def load(text: str, source: str) -> Any:
    """Parse one YAML document under the limits; errors are BadInput naming ``source``."""
    if len(text) > MAX_BYTES:
        raise BadInput(f"{source}: larger than {MAX_BYTES // 1024} KiB; not a recipe")
    loader = None
    try:
        loader = _Limited(text)  # the reader refuses unprintable characters right here
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node) > MAX_NODES:
            raise _Refused(f"expands to more than {MAX_NODES} values (an alias bomb?)")
        data = loader.construct_document(node)
    except _Refused as exc:
        raise BadInput(f"{source}: {exc}") from None
    except yaml.YAMLError as exc:
        raise BadInput(f"{source}: {_yaml_problem(exc)}") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # e.g. an integer of more than 4300 digits, a timestamp out of range.
        raise BadInput(f"{source}: unreadable value ({str(exc)[:120]})") from None
    finally:
        if loader is not None:
            loader.dispose()
    check_strings(data, source)
    return data


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0][:120] or "invalid YAML"
    return f"YAML syntax error{where}: {problem}"


def printable(text: str) -> str:
    """Text as one printable line: control characters, non-ASCII and surrogates escaped."""
    return text.encode("unicode_escape").decode("ascii")


def check_strings(data: Any, source: str) -> None:
    """Every key and string value is valid Unicode text, NUL-free and of bounded length."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{key}" if path else str(key)
                _check_one(key, where, source)
                stack.append((item, where))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{index}]") for index, item in enumerate(value))
        else:
            _check_one(value, path, source)


def _check_one(value: Any, where: str, source: str) -> None:
    if not isinstance(value, str):
        return
    shown = printable(where) or "(top level)"
    if len(value) > MAX_STRING:
        raise BadInput(f"{source}: {shown}: text longer than {MAX_STRING} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"{source}: {shown}: not valid Unicode text (a lone surrogate)") from None
    if "\x00" in value:
        raise BadInput(f"{source}: {shown}: contains a NUL character")
