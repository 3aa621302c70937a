"""Run a level's shares: in this process when there is one, else one spawned process each.

Processes warm up, meet at a barrier, then send; results come back over a queue. A process that
dies or never answers becomes a failed outcome per request it was given, with the reason.
``in_processes`` is that fan-out for any job (``servelab.streams`` runs its streams with it).
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections.abc import Callable
from typing import Any, TypeVar

from servelab.load import eventloop
from servelab.load.worker import Outcome, Share, ShareResult, run_share

START_TIMEOUT_S = 120.0
T = TypeVar("T")


def _share_job(share: Share, ready: Callable[[], Any]) -> ShareResult:
    return eventloop.run(run_share(share, ready=ready))


def lost(share: Share, reason: str) -> ShareResult:
    """A failed outcome for every request of ``share``, with the reason."""
    now = time.perf_counter()
    count = len(share.offsets) if share.offsets is not None else len(share.payloads)
    failed = Outcome(False, reason, None, None, None, None, None, None, now, now, None, None)
    return ShareResult(outcomes=[failed] * count)


def run_shares(shares: list[Share]) -> list[ShareResult]:
    """Every share's result, in order."""
    if len(shares) == 1:
        return [eventloop.run(run_share(shares[0]))]
    done = in_processes(_share_job, shares)
    return [
        result or lost(share, error) for share, (result, error) in zip(shares, done, strict=True)
    ]


def _child(target: Callable, job: Any, barrier: Any, results: Any, slot: int) -> None:
    try:
        results.put((slot, target(job, lambda: barrier.wait(START_TIMEOUT_S)), None))
    except BaseException as exc:  # the parent turns this into the job's failure
        results.put((slot, None, f"client process failed: {type(exc).__name__}: {exc}"))


def in_processes(
    target: Callable[[Any, Callable[[], Any]], T], jobs: list[Any]
) -> list[tuple[T | None, str]]:
    """``target(job, ready)`` in one spawned process per job; each calls ``ready()`` (a barrier:
    they start together) when set to go. Each job's (result, ""), or (None, why its process
    failed) for a process that raised, died or never answered. ``target`` is a module-level
    function (spawn pickles it)."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(jobs))
    results = context.Queue()
    processes = [
        context.Process(target=_child, args=(target, job, barrier, results, slot), daemon=True)
        for slot, job in enumerate(jobs)
    ]
    for process in processes:
        process.start()
    found: dict[int, tuple[T | None, str]] = {}
    try:
        while len(found) < len(jobs):
            try:
                slot, result, error = results.get(timeout=0.5)
            except queue.Empty:
                if any(process.is_alive() for process in processes):
                    continue
                break
            found[slot] = (result, error or "")
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
    codes = ", ".join(str(process.exitcode) for process in processes)
    died = (None, f"client process died (exit codes {codes})")
    return [found.get(slot, died) for slot in range(len(jobs))]
