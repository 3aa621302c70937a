"""`servelab import FILE…`: other tools' result files (and servelab's own) as stored benches.

Each reader module has ``matches(data)`` and ``read(SourceFile) -> list[BenchResult]``; the
first whose ``matches`` accepts the parsed file reads it. Published-result lists (YAML/JSON of
stack, version, decode_tps, source) stay with ``servelab.store.reported``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import yaml

from servelab.errors import BadInput
from servelab.imports import aiperf, guidellm, llama_bench, servelab_json, vllm_serve
from servelab.imports.common import SourceFile, sha256_of
from servelab.records import BenchResult

READERS = (servelab_json, vllm_serve, guidellm, aiperf, llama_bench)
KNOWN = (
    "vllm bench serve --save-result JSON, GuideLLM benchmarks JSON, AIPerf "
    "profile_export_aiperf.json/.csv, llama-bench -o json/jsonl, servelab bench --json"
)


def _parse(path: Path, text: str) -> tuple[Any, str]:
    """The file's content and its kind (json, jsonl, csv, yaml), by suffix then by content."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return list(csv.reader(io.StringIO(text))), "csv"
    if suffix in (".yaml", ".yml"):
        return yaml.safe_load(text), "yaml"
    try:
        return json.loads(text), "json"
    except json.JSONDecodeError as exc:
        lines = [line for line in text.splitlines() if line.strip()]
        try:
            return [json.loads(line) for line in lines], "jsonl"
        except json.JSONDecodeError:
            if suffix in (".json", ".jsonl"):
                raise BadInput(f"{path}: not valid JSON: {exc}") from None
    try:
        return yaml.safe_load(text), "yaml"
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: neither JSON, JSON lines, CSV nor YAML: {exc}") from None


def read_source(path: Path) -> SourceFile:
    """Read and parse one file (one-line errors for missing, unreadable or unparsable files)."""
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read ({exc})") from None
    data, kind = _parse(path, text)
    return SourceFile(path=path, sha256=sha256_of(raw), data=data, kind=kind)


def reader_for(source: SourceFile) -> Any | None:
    """The reader module for a parsed file, or None when no tool's format matches."""
    for reader in READERS:
        if reader.matches(source.data):
            return reader
    return None


def import_benches(source: SourceFile) -> list[BenchResult]:
    """The benches a recognised file holds; BadInput when the format is unknown."""
    reader = reader_for(source)
    if reader is None:
        raise BadInput(f"{source.path}: not a format servelab imports ({KNOWN})")
    return reader.read(source)


def tool_name(bench: BenchResult) -> str:
    """'vllm bench serve 0.x' etc. for an imported bench ('' for others)."""
    origin = bench.provenance.imported
    if origin is None:
        return ""
    return f"{origin.tool} {origin.tool_version}" if origin.tool_version else origin.tool
