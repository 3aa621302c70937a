"""Many streams at once: ``run_concurrent`` spreads one wave of concurrent streamed runs over
client processes (each its own event loop, ``load.fanout.in_processes``) so the client keeps
up; the client benchmark (benchmarks/client_bench.py) measures it. Sustained load levels are
``servelab.load``."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

from servelab.client import _failed, stream_client, stream_run
from servelab.load.fanout import in_processes
from servelab.records import RunRecord


async def run_streams(
    base_url: str,
    payload: dict[str, Any],
    streams: int,
    *,
    timeout_s: float = 600.0,
    api_key: str | None = None,
) -> list[RunRecord]:
    """``streams`` concurrent runs on one event loop, one connection each."""
    async with stream_client(timeout_s) as client:
        return list(
            await asyncio.gather(
                *(
                    stream_run(client, base_url, payload, timeout_s=timeout_s, api_key=api_key)
                    for _ in range(streams)
                )
            )
        )


def _streams_job(job: tuple, ready: Callable[[], Any]) -> list[dict[str, Any]]:
    """One process's streams (``in_processes`` target): their records as dicts."""
    base_url, payload, streams, timeout_s, api_key = job
    ready()  # a sibling that never starts must not hang the others (the barrier times out)
    runs = asyncio.run(
        run_streams(base_url, payload, streams, timeout_s=timeout_s, api_key=api_key)
    )
    return [run.model_dump() for run in runs]


STREAMS_PER_PROCESS = 64  # one event loop keeps up with this many streams (benchmarks/RESULTS.md)


def default_processes(streams: int) -> int:
    """Client processes for ``streams``: one per ``STREAMS_PER_PROCESS``, at most one per core."""
    return max(1, min(os.cpu_count() or 1, -(-streams // STREAMS_PER_PROCESS)))


def split_streams(streams: int, processes: int) -> list[int]:
    """Near-equal shares of ``streams`` over ``processes`` (no empty share)."""
    processes = max(1, min(processes, streams))
    base, extra = divmod(streams, processes)
    return [base + (1 if i < extra else 0) for i in range(processes)]


def run_concurrent(
    base_url: str,
    payload: dict[str, Any],
    streams: int,
    *,
    processes: int | None = None,
    timeout_s: float = 600.0,
    api_key: str | None = None,
) -> list[RunRecord]:
    """``streams`` concurrent runs: the bench's concurrency levels and the client benchmark both
    run this. One process (its own event loop) per share of streams, ``default_processes`` unless
    given; processes start their streams together (a barrier); records are merged in process
    order, each with ``concurrency = streams`` and ``index`` 1…streams.
    """
    if streams < 1:
        raise ValueError("streams must be ≥ 1")
    shares = split_streams(streams, processes or default_processes(streams))
    if len(shares) == 1:
        runs = asyncio.run(
            run_streams(base_url, payload, streams, timeout_s=timeout_s, api_key=api_key)
        )
    else:
        runs = _run_in_processes(base_url, payload, shares, timeout_s, api_key)
    for index, run in enumerate(runs, 1):
        run.index = index
        run.concurrency = streams
    return runs


def _run_in_processes(
    base_url: str,
    payload: dict[str, Any],
    shares: list[int],
    timeout_s: float,
    api_key: str | None,
) -> list[RunRecord]:
    jobs = [(base_url, payload, share, timeout_s, api_key) for share in shares]
    merged: list[RunRecord] = []
    for share, (batch, error) in zip(shares, in_processes(_streams_job, jobs), strict=True):
        if batch is None:
            merged += [_failed(error, time.time()) for _ in range(share)]
        else:
            merged += [RunRecord(**data) for data in batch]
    return merged
