"""servelab's own `bench --json` output: a measured bench, stored again with its provenance."""

from __future__ import annotations

import time
from typing import Any

from pydantic import ValidationError

from servelab import metrics
from servelab.imports.common import SourceFile
from servelab.records import BenchResult, ImportedFrom, RunRecord

KEYS = {"runs", "summary", "provenance", "status"}


def matches(data: Any) -> bool:
    """The `bench --json` contract (with provenance)."""
    return isinstance(data, dict) and data.keys() >= KEYS


def read(source: SourceFile) -> list[BenchResult]:
    """The bench as servelab measured it (ranked like any measured bench), marked imported."""
    data = dict(source.data)
    try:
        bench = BenchResult.model_validate(
            {
                **{key: data.get(key) for key in ("summary", "spec", "regimes", "provenance")},
                "status": data.get("status") or "complete",
                "concurrency": data.get("concurrency") or [],
                "runs": [RunRecord.model_validate(run) for run in data.get("runs") or []],
                "started_at": data.get("started_at") or time.time(),
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "(file)"
        raise source.fail(f"servelab bench JSON: {key}: {first['msg'].lower()}") from None
    if bench.status != "complete":
        raise source.fail(f"servelab bench JSON has status {bench.status!r}, not complete")
    bench.provenance.imported = ImportedFrom(
        tool="servelab",
        tool_version=bench.provenance.servelab_version,
        file=source.path.name,
        sha256=source.sha256,
        figure="decode t/s",
        formula=f"{metrics.DECODE_TPS.formula}, mean of the warm runs",
        comparable=True,
        note="measured by servelab; stored as measured",
    )
    return [bench]
