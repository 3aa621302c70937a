"""What every importer shares: the file as read (bytes, hash, parsed), and a bench to store."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servelab import __version__
from servelab.errors import BadInput
from servelab.records import BenchResult, ImportedFrom, Provenance, RunRecord, Summary


@dataclass(frozen=True)
class SourceFile:
    """One file given to `servelab import`: its name, SHA-256 and parsed content."""

    path: Path
    sha256: str
    data: Any
    kind: str  # json, jsonl, csv or yaml

    def fail(self, message: str) -> BadInput:
        """A one-line error naming the file."""
        return BadInput(f"{self.path}: {message}")


def sha256_of(raw: bytes) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class Figure:
    """How a tool's figure maps onto servelab's decode t/s."""

    tool: str
    figure: str
    formula: str
    comparable: bool
    note: str = ""

    def origin(self, source: SourceFile, version: str | None) -> ImportedFrom:
        return ImportedFrom(
            tool=self.tool,
            tool_version=version,
            file=source.path.name,
            sha256=source.sha256,
            figure=self.figure,
            formula=self.formula,
            comparable=self.comparable,
            note=self.note,
        )


def number(value: Any) -> float | None:
    """A finite float from a JSON/CSV value, else None."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if result == result and abs(result) != float("inf") else None


def imported_bench(
    source: SourceFile,
    origin: ImportedFrom,
    *,
    stack: str,
    version: str,
    started_at: float,
    summary: Summary,
    runs: list[RunRecord] | None = None,
    model: str = "",
    endpoint: str = "",
    tokens: int = 0,
    engine: str | None = None,
    gpu: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> BenchResult:
    """A complete, imported (not servelab-measured) bench carrying its provenance."""
    label = f"{origin.tool} {origin.tool_version}" if origin.tool_version else origin.tool
    provenance = Provenance(
        stack=stack,
        stack_version=version,
        endpoint=endpoint,
        model=model or stack,
        engine=engine,
        gpu=gpu or [],
        host="",
        servelab_version=__version__,
        workload_id=f"imported:{origin.tool}",
        workload_hash=origin.sha256,
        tokens=tokens,
        imported=origin,
    )
    return BenchResult(
        provenance=provenance,
        started_at=started_at,
        finished_at=started_at,
        status="complete",
        runs=runs or [],
        summary=summary,
        reported=True,
        source=f"imported from {label}: {source.path.name} (sha256 {source.sha256[:12]})",
        **extra,
    )


def sample_runs(values: list[float], tokens: int | None = None) -> list[RunRecord]:
    """Per-sample values as runs (the tool's own samples; none is cold)."""
    return [
        RunRecord(index=index, ok=True, decode_tps=value, output_tokens=tokens)
        for index, value in enumerate(values, start=1)
    ]
