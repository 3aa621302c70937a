"""The server's own figures over a level's window: counter deltas from ``/metrics`` (the engine
adapter names the samples) and, where the engine reports one, its per-response decode rate.

- output t/s (server) = Δ generated tokens / level duration;
- decode t/s (server) = (Δ generated − Δ decoded requests) / Δ decode seconds, where the engine
  counts decoded requests, else Δ generated / Δ decode seconds; else the mean of the engine's
  per-response decode rates (llama.cpp's ``timings``).
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from servelab.bench.specmetrics import fetch_metrics
from servelab.errors import RunFailed
from servelab.load.records import ServerFigures
from servelab.load.worker import Outcome

Snapshot = dict[str, float]


def snapshot(engine, url: str, api_key: str | None) -> Snapshot | None:
    """The engine's load counters now (neutral names), or None when there are none."""
    names = engine.load_counter_names() if engine is not None else {}
    if not names:
        return None
    try:
        text = fetch_metrics(url, api_key=api_key)
    except RunFailed:
        return None
    if text is None:
        return None
    wanted = {sample: key for key, sample in names.items()}
    values: Snapshot = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = wanted.get(sample.name)
                if key is not None:
                    values[key] = values.get(key, 0.0) + float(sample.value)
    except ValueError:
        return None
    return values or None


def figures(
    before: Snapshot | None, after: Snapshot | None, duration_s: float, ok: list[Outcome]
) -> ServerFigures:
    """What the server says about the level; ``source`` names where it came from."""
    rates = [o.engine_decode_tps for o in ok if o.engine_decode_tps is not None]
    timings_tps = sum(rates) / len(rates) if rates else None
    if before is None or after is None or "generated_tokens" not in after:
        if timings_tps is None:
            return ServerFigures(note="the server exposes no load counters or timings")
        return ServerFigures(source="timings", decode_tps=timings_tps)
    delta = {key: after[key] - before.get(key, 0.0) for key in after}
    generated = delta["generated_tokens"]
    decode_tps = timings_tps
    seconds = delta.get("decode_seconds")
    if seconds:
        decoded = generated - delta.get("decode_requests", 0.0)
        decode_tps = decoded / seconds
    return ServerFigures(
        source="metrics",
        generated_tokens=generated,
        output_tps=generated / duration_s if duration_s > 0 else None,
        decode_tps=decode_tps,
        note=None if seconds else ("decode rate from timings" if timings_tps else None),
    )
