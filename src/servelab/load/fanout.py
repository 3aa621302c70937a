"""Run a level's shares: in this process when there is one, else one spawned process each.

Processes warm up, meet at a barrier, then send; results come back over a queue. A process that
dies or never answers becomes a failed outcome per request it was given, with the reason.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from typing import Any

from servelab.load import eventloop
from servelab.load.worker import Outcome, Share, ShareResult, run_share

START_TIMEOUT_S = 120.0


def _process_main(share: Share, barrier: Any, results: Any, slot: int) -> None:
    try:
        result = eventloop.run(run_share(share, ready=lambda: barrier.wait(START_TIMEOUT_S)))
        results.put((slot, result, None))
    except BaseException as exc:  # the parent turns this into failed outcomes
        results.put((slot, None, f"client process failed: {type(exc).__name__}: {exc}"))


def _lost(share: Share, reason: str) -> ShareResult:
    now = time.perf_counter()
    count = len(share.offsets) if share.offsets is not None else len(share.payloads)
    failed = Outcome(False, reason, None, None, None, None, None, None, now, now, None, None)
    return ShareResult(outcomes=[failed] * count)


def run_shares(shares: list[Share]) -> list[ShareResult]:
    """Every share's result, in order."""
    if len(shares) == 1:
        return [eventloop.run(run_share(shares[0]))]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(shares))
    results = context.Queue()
    processes = [
        context.Process(target=_process_main, args=(share, barrier, results, slot), daemon=True)
        for slot, share in enumerate(shares)
    ]
    for process in processes:
        process.start()
    found: dict[int, ShareResult] = {}
    try:
        while len(found) < len(shares):
            try:
                slot, result, error = results.get(timeout=0.5)
            except queue.Empty:
                if any(process.is_alive() for process in processes):
                    continue
                break
            found[slot] = result if result is not None else _lost(shares[slot], error)
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
    codes = ", ".join(str(process.exitcode) for process in processes)
    reason = f"client process died (exit codes {codes})"
    return [found.get(slot) or _lost(share, reason) for slot, share in enumerate(shares)]
