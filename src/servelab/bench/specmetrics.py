"""Engine-neutral speculative-decoding telemetry from Prometheus ``/metrics`` text.

The engine adapter names the counter families (``engine.spec_counter_names()``); this module
reads them, sums over label sets other than ``position`` (vLLM adds ``engine``/``model_name``),
ignores ``*_created`` samples, and turns two readings into deltas over the measured window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

from servelab import metrics
from servelab.endpoint import auth_headers
from servelab.engines.base import SpecCounters
from servelab.errors import RunFailed
from servelab.records import RunRecord, SpecStats

NO_METRICS_STATUS = (404, 501)  # 501: llama-server started without --metrics


def fetch_metrics(
    base_url: str, *, api_key: str | None = None, timeout_s: float = 10.0
) -> str | None:
    """The ``/metrics`` text of a server, or None when it exposes none (404/501)."""
    url = base_url.rstrip("/") + "/metrics"
    try:
        response = httpx.get(url, headers=auth_headers(api_key), timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise RunFailed(f"GET {url} failed: {type(exc).__name__}: {exc}") from None
    if response.status_code in NO_METRICS_STATUS:
        return None
    if response.status_code >= 400:
        raise RunFailed(f"GET {url} answered HTTP {response.status_code}")
    return response.text


def _family_names(name: str) -> tuple[str, str]:
    # Typed counters lose "_total" in the parser; untyped ones keep it.
    return name, name + "_total"


def parse_spec_counters(text: str, names: Mapping[str, str]) -> SpecCounters:
    """Cumulative counters from ``/metrics`` text; ``names`` maps drafts/drafted/accepted/
    per_position to the engine's family names. ``present`` is False when none was found."""
    wanted = {family: key for key, name in names.items() for family in _family_names(name)}
    counters = SpecCounters()
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError as exc:
        raise RunFailed(f"/metrics text is not Prometheus exposition format: {exc}") from None
    for family in families:
        key = wanted.get(family.name)
        if key is None:
            continue
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            counters.present = True
            if key == "per_position":
                position = int(sample.labels.get("position", 0))
                counters.per_position[position] = (
                    counters.per_position.get(position, 0.0) + sample.value
                )
            else:
                setattr(counters, key, getattr(counters, key) + sample.value)
    return counters


def spec_delta(before: SpecCounters, after: SpecCounters, k: int | None = None) -> SpecStats:
    """Speculation over the window between two readings (formulas: ``servelab.metrics``:
    ACCEPTANCE_RATE, MEAN_ACCEPTANCE_LENGTH, PER_POSITION, TOKENS_PER_STEP_ESTIMATE)."""
    drafts = after.drafts - before.drafts
    drafted = after.drafted - before.drafted
    accepted = after.accepted - before.accepted
    if min(drafts, drafted, accepted) < 0:
        raise RunFailed(
            "speculative counters went backwards during the bench (did the server restart?)"
        )
    alpha = metrics.acceptance_rate(accepted, drafted)
    positions = sorted(set(after.per_position) | set(before.per_position))
    per_pos = [
        after.per_position.get(i, 0.0) - before.per_position.get(i, 0.0)
        for i in range(positions[-1] + 1 if positions else 0)
    ]
    return SpecStats(
        drafts=drafts,
        drafted=drafted,
        accepted=accepted,
        k=k,
        source="metrics",
        acceptance_rate=alpha,
        estimated_tokens_per_step=metrics.tokens_per_step_estimate(alpha, k),
        mean_acceptance_length=metrics.mean_acceptance_length(accepted, drafts),
        per_position=metrics.per_position_rates(per_pos, drafts),
    )


def timings_totals(runs: Iterable[RunRecord]) -> tuple[int, int] | None:
    """(Σ drafted, Σ accepted) from the responses' own records, None when none carried any."""
    reported = [run for run in runs if run.drafted is not None]
    if not reported:
        return None
    return sum(run.drafted or 0 for run in reported), sum(run.accepted or 0 for run in reported)
