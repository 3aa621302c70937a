"""The server's own decode figure for a run from its ``/metrics`` read around that run.

The engine adapter names the families (``engine.decode_metric_names()``): a counter of generated
tokens and a per-request decode-time histogram. Samples are summed over label sets. Over the
window between two readings: server decode t/s = (Δtokens − Δrequests) / Δdecode seconds
(``servelab.metrics.server_decode_window``), the engine's timing of the run(s) in that window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from servelab import metrics


@dataclass(frozen=True)
class DecodeCounters:
    """Cumulative generated tokens, decode-time sum (s) and finished requests."""

    tokens: float
    seconds: float
    requests: float


def parse_decode_counters(text: str, names: Mapping[str, str]) -> DecodeCounters | None:
    """The counters from ``/metrics`` text; None when the token counter is absent."""
    tokens = seconds = requests = 0.0
    found = False
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError:
        return None
    token_names = (names["tokens"], names["tokens"] + "_total")
    for family in families:
        if family.name in token_names:
            for sample in family.samples:
                if not sample.name.endswith("_created"):
                    tokens += sample.value
                    found = True
        elif family.name == names["seconds"]:
            for sample in family.samples:
                if sample.name.endswith("_sum"):
                    seconds += sample.value
                elif sample.name.endswith("_count"):
                    requests += sample.value
    return DecodeCounters(tokens, seconds, requests) if found else None


def window_decode_tps(
    before: str | None, after: str | None, names: Mapping[str, str] | None
) -> float | None:
    """The server's decode t/s over the window between two ``/metrics`` texts, or None."""
    if before is None or after is None or names is None:
        return None
    start, end = parse_decode_counters(before, names), parse_decode_counters(after, names)
    if start is None or end is None:
        return None
    window = metrics.server_decode_window(
        end.tokens - start.tokens, end.requests - start.requests, end.seconds - start.seconds
    )
    return metrics.server_decode_tps(*window) if window else None
