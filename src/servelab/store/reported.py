"""Published results (YAML/JSON lists) turned into reported benches and checks."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from servelab import __version__
from servelab.errors import BadInput
from servelab.records import (
    BenchResult,
    CheckResult,
    CheckSet,
    Provenance,
    ReportedResult,
    SpecStats,
    Summary,
)

REPORTED_CHECKS = ("vision", "tools")


def bundled_reported() -> list[str]:
    """Names of the published result sets shipped with servelab (e.g. post-leaderboard)."""
    folder = resources.files("servelab") / "data"
    return sorted(
        item.name.removesuffix(".yaml") for item in folder.iterdir() if item.name.endswith(".yaml")
    )


def load_reported(path_or_name: str | Path) -> list[ReportedResult]:
    """Read a list of published results (a file, or a bundled set's name).

    Errors name the file, the entry and the key.
    """
    path = Path(path_or_name)
    if not path.exists() and str(path_or_name) in bundled_reported():
        bundled = resources.files("servelab") / "data" / f"{path_or_name}.yaml"
        path = Path(str(bundled))
    if not path.is_file():
        known = ", ".join(bundled_reported())
        raise BadInput(f"{path}: no such file (bundled result sets: {known})")
    try:
        text = path.read_text()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        data: Any = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise BadInput(f"{path}: not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        data = data["results"]
    if not isinstance(data, list) or not data:
        raise BadInput(f"{path}: expected a non-empty list of results (or a 'results:' list)")
    entries = []
    for number, item in enumerate(data, start=1):
        try:
            entries.append(ReportedResult.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(part) for part in first["loc"]) or "(entry)"
            raise BadInput(f"{path}: entry {number}: {key}: {first['msg'].lower()}") from None
    return entries


def reported_bench(entry: ReportedResult, *, started_at: float) -> BenchResult:
    """A complete, reported bench without runs: the published mean (σ, n when published)."""
    provenance = Provenance(
        stack=entry.stack,
        stack_version=entry.version,
        endpoint="",
        model=entry.label or entry.stack,
        engine=entry.engine,
        gpu=[{"name": entry.gpu}] if entry.gpu else [],
        host="",
        servelab_version=__version__,
        workload_id=entry.workload or "",
        workload_hash="",
        tokens=entry.tokens or 0,
        context=entry.context,
    )
    spec = SpecStats(acceptance_rate=entry.acceptance_rate, source="reported")
    return BenchResult(
        provenance=provenance,
        started_at=started_at,
        finished_at=started_at,
        status="complete",
        summary=Summary(n=entry.n or 0, mean=entry.decode_tps, stdev=entry.stdev),
        spec=spec if entry.acceptance_rate is not None else None,
        reported=True,
        source=entry.source,
    )


def reported_check_set(entry: ReportedResult, created_at: float) -> CheckSet:
    """Published vision/tools claims as a reported check set (no check for a claim left blank)."""
    found = []
    for name in REPORTED_CHECKS:
        claim = getattr(entry, name)
        if claim is not None:
            detail = f"reported {'supported' if claim else 'not supported'} by {entry.source}"
            found.append(
                CheckResult(
                    name=name, passed=claim, detail=detail, evidence=[{"source": entry.source}]
                )
            )
    return CheckSet(
        stack=entry.stack,
        stack_version=entry.version,
        checks=found,
        engine=entry.engine,
        gpu=[{"name": entry.gpu}] if entry.gpu else [],
        created_at=created_at,
        reported=True,
        source=entry.source,
    )
