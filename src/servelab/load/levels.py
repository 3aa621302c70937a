"""Run one load level: split it over client processes, send, merge, check against the server.

A level is closed-loop (``max_concurrency`` requests in flight until ``num_prompts`` are done or
``duration_s`` has passed) or scheduled (``request_rate`` req/s, Poisson, gamma or constant
arrivals, or a trace's own send times, optionally capped at ``max_concurrency`` in flight).
Default sizes are in ``default_prompts``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from servelab.load import eventloop, ray_fanout, server
from servelab.load.fanout import run_shares
from servelab.load.plan import LevelSpec
from servelab.load.records import LoadLevel
from servelab.load.schedule import offsets
from servelab.load.summary import summarize
from servelab.load.worker import Outcome, Share, run_share

PROMPTS_PER_STREAM = 4
MIN_PROMPTS = 16
RATE_LEVEL_SECONDS = 10.0
MAX_DEFAULT_PROMPTS = 1000


@dataclass
class Client:
    """Where and how the client sends."""

    url: str
    engine: Any = None  # an engines.Engine, or None for an unknown server
    api_key: str | None = None
    timeout_s: float = 600.0
    processes: int = 0  # 0: one per core (with Ray: one per CPU of the cluster)
    warmup: int | None = None  # warm-up requests before each level (None: one per process)
    ray_address: str | None = None  # generate the load as Ray tasks on this cluster


def generators(client: Client) -> int:
    """How many client processes (or Ray tasks) a level may use."""
    if client.processes:
        return client.processes
    if client.ray_address:
        return ray_fanout.connect(client.ray_address)
    return os.cpu_count() or 1


def default_prompts(spec: LevelSpec) -> int:
    """Closed loop: max(16, 4 × concurrency); rate: 10 s worth, at least 16, at most 1,000."""
    if spec.mode == "concurrency":
        return max(MIN_PROMPTS, PROMPTS_PER_STREAM * (spec.max_concurrency or 1))
    wanted = math.ceil(RATE_LEVEL_SECONDS * (spec.request_rate or 1.0))
    return min(MAX_DEFAULT_PROMPTS, max(MIN_PROMPTS, wanted))


def proportional(total: int, weights: list[int]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainder)."""
    whole = sum(weights)
    exact = [total * weight / whole for weight in weights]
    counts = [math.floor(value) for value in exact]
    order = sorted(range(len(weights)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def plan_shares(
    spec: LevelSpec,
    payloads: list[dict[str, Any]],
    client: Client,
    times: list[float] | None = None,
) -> list[Share]:
    """One share per client process (never more processes than streams or requests); a rate
    level's send offsets are drawn, a trace's (``times``, sorted) are given."""
    cores = generators(client)
    common = {"url": client.url, "timeout_s": client.timeout_s, "api_key": client.api_key}
    common["engine"] = client.engine.name if client.engine is not None else None
    if spec.mode == "concurrency":
        streams = spec.max_concurrency or 1
        count = min(cores, streams)
        weights = proportional(streams, [1] * count)
        sizes = proportional(len(payloads), weights)
        shares, start = [], 0
        for streams_here, size in zip(weights, sizes, strict=True):
            chunk = payloads[start : start + size] or payloads[:1]
            start += size
            shares.append(
                Share(
                    payloads=chunk, concurrency=streams_here, duration_s=spec.duration_s, **common
                )
            )
    else:
        if times is None:
            times = offsets(
                len(payloads), spec.request_rate or 1.0, spec.mode, spec.burstiness, spec.seed
            )
        count = max(1, min(cores, len(payloads)))
        caps = proportional(spec.max_concurrency, [1] * count) if spec.max_concurrency else None
        shares = [
            Share(
                payloads=payloads[i::count],
                offsets=times[i::count],
                concurrency=caps[i] if caps else None,
                **common,
            )
            for i in range(count)
        ]
    return shares


def warm_up(shares: list[Share], count: int | None) -> None:
    """Send ``count`` requests (default: one per share) at once and forget them."""
    count = len(shares) if count is None else count
    if count <= 0:
        return
    first = shares[0]
    warm = Share(
        url=first.url,
        payloads=[first.payloads[i % len(first.payloads)] for i in range(count)],
        timeout_s=first.timeout_s,
        api_key=first.api_key,
        concurrency=count,
    )
    eventloop.run(run_share(warm))


def run_level(
    spec: LevelSpec,
    payloads: list[dict[str, Any]],
    client: Client,
    slo: dict[str, float] | None = None,
    times: list[float] | None = None,
) -> tuple[LoadLevel, list[Outcome]]:
    """Measure one level; the server's counters are read just before and just after it."""
    shares = plan_shares(spec, payloads, client, times)
    warm_up(shares, client.warmup)
    before = server.snapshot(client.engine, client.url, client.api_key)
    if client.ray_address:
        results = ray_fanout.run_shares(shares, client.ray_address)
    else:
        results = run_shares(shares)
    after = server.snapshot(client.engine, client.url, client.api_key)
    base = LoadLevel(
        mode=spec.mode,
        max_concurrency=spec.max_concurrency,
        request_rate=spec.request_rate,
        label=spec.label,
        requests=0,
        ok=0,
        duration_s=0.0,
        max_in_flight=0,
    )
    level, outcomes = summarize(base, results, slo)
    if client.ray_address and level.client is not None:
        level.client.fanout = f"ray ({client.ray_address})"
    ok = [outcome for outcome in outcomes if outcome.ok]
    level.server = server.figures(before, after, level.duration_s, ok)
    return level, outcomes
