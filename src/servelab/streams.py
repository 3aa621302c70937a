"""Many streams at once: ``run_concurrent`` spreads concurrent streamed runs over client
processes (each its own event loop) so the client keeps up; the bench's concurrency levels and
the client benchmark (benchmarks/client_bench.py) both run it."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import time
from typing import Any

from servelab.client import _failed, stream_client, stream_run
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


def _worker(
    base_url: str,
    payload: dict[str, Any],
    streams: int,
    timeout_s: float,
    api_key: str | None,
    barrier: Any,
    results: Any,
) -> None:
    try:
        barrier.wait(timeout=120)  # a sibling that never starts must not hang the others
        runs = asyncio.run(
            run_streams(base_url, payload, streams, timeout_s=timeout_s, api_key=api_key)
        )
        results.put([run.model_dump() for run in runs])
    except BaseException as exc:
        reason = f"client process failed: {type(exc).__name__}: {exc}"
        results.put([_failed(reason, time.time()).model_dump()] * streams)


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
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(shares))
    results = context.Queue()
    workers = [
        context.Process(
            target=_worker,
            args=(base_url, payload, share, timeout_s, api_key, barrier, results),
            daemon=True,
        )
        for share in shares
    ]
    for worker in workers:
        worker.start()
    merged: list[RunRecord] = []
    try:
        for _ in workers:
            batch = _next_batch(results, workers)
            if batch is None:
                break
            merged.extend(RunRecord(**data) for data in batch)
    finally:
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
    codes = ", ".join(str(worker.exitcode) for worker in workers)
    lost = _failed(f"client process died (exit codes {codes})", time.time())
    merged.extend(lost.model_copy() for _ in range(sum(shares) - len(merged)))
    return merged


def _next_batch(results: Any, workers: list[Any]) -> list[dict[str, Any]] | None:
    """The next worker's records; None once every worker has exited without sending any."""
    while True:
        try:
            return results.get(timeout=0.5)
        except queue.Empty:
            if not any(worker.is_alive() for worker in workers):
                try:
                    return results.get(timeout=0.5)
                except queue.Empty:
                    return None
