"""One client process's share of a load level: closed-loop or scheduled sends on one event loop.

Closed loop (``concurrency`` set, no ``offsets``): that many workers each send the next request
as soon as their previous one ends, until the requests are used up or ``duration_s`` has passed.
Scheduled (``offsets`` set): request i is sent at ``t0 + offsets[i]``, at most ``concurrency``
in flight when that is set. A loop-lag probe sleeps ``PROBE_S`` repeatedly and counts how late
it wakes: the event loop's own delay, which also delays every timestamp taken on it.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import resource
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from servelab.client import stream_client, stream_run
from servelab.load.stamps import LATE_S, PROBE_S

_clock = time.perf_counter


class Outcome(NamedTuple):
    """One measured request (times from time.perf_counter(), comparable across processes)."""

    ok: bool
    error: str | None
    output_tokens: int | None
    prompt_tokens: int | None
    ttft_s: float | None
    tpot_s: float | None
    e2el_s: float | None
    t_due: float | None  # when it should have been sent (None: the closed loop's first wave)
    t_sent: float
    t_end: float
    response_id: str | None
    engine_decode_tps: float | None
    max_read_chunks: int | None = None  # most text chunks one network read brought
    stamp_slack: tuple | None = None  # RunRecord.stamp_slack: (held, window) of first, last


@dataclass
class Share:
    """What one process sends."""

    url: str
    payloads: list[dict[str, Any]]
    timeout_s: float
    api_key: str | None = None
    offsets: list[float] | None = None
    concurrency: int | None = None
    duration_s: float | None = None
    engine: str | None = None
    start_at: float | None = None  # a wall-clock instant (time.time()) to start at, else now


@dataclass
class ShareResult:
    """What one process measured: its requests, ITL and loop-lag counts (µs → n), its late
    wakes (wake time, late s; see load/stamps.py), its CPU."""

    outcomes: list[Outcome] = field(default_factory=list)
    itl_us: dict[int, int] = field(default_factory=dict)
    loop_lag_us: dict[int, int] = field(default_factory=dict)
    late_wakes: list[tuple[float, float]] = field(default_factory=list)
    cpu_s: float = 0.0
    wall_s: float = 0.0
    clock_offset: float = 0.0  # time.time() − time.perf_counter() in this process, at its start


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _engine_reader(name: str | None):
    if name is None:
        return None
    from servelab.engines import get_engine

    return get_engine(name).response_decode_tps


class _Runner:
    def __init__(self, share: Share, client) -> None:
        self.share, self.client = share, client
        self.result = ShareResult()
        self.read_decode = _engine_reader(share.engine)

    async def one(self, payload: dict[str, Any], t_due: float | None) -> Outcome:
        t_sent = _clock()
        run = await stream_run(
            self.client,
            self.share.url,
            payload,
            timeout_s=self.share.timeout_s,
            api_key=self.share.api_key,
            itl=self.result.itl_us,
        )
        tpot = 1.0 / run.decode_tps if run.decode_tps else None
        t_end = t_sent + run.duration_s if run.duration_s is not None else _clock()
        decode = self.read_decode(run.engine_timings) if self.read_decode else None
        outcome = Outcome(
            run.ok,
            run.error,
            run.output_tokens,
            run.prompt_tokens,
            run.ttft_s,
            tpot,
            run.duration_s,
            t_due,
            t_sent,
            t_end,
            run.response_id,
            decode,
            run.max_read_chunks,
            run.stamp_slack,
        )
        self.result.outcomes.append(outcome)
        return outcome

    async def closed_loop(self, t0: float) -> None:
        share = self.share
        source = itertools.cycle(share.payloads) if share.duration_s else iter(share.payloads)
        deadline = t0 + share.duration_s if share.duration_s else None

        async def worker() -> None:
            due = None  # the first wave starts together; later sends are due when a slot frees
            for payload in source:
                if deadline is not None and _clock() >= deadline:
                    return
                due = (await self.one(payload, due)).t_end

        await asyncio.gather(*(worker() for _ in range(share.concurrency or 1)))

    async def scheduled(self, t0: float) -> None:
        share = self.share
        limit = asyncio.Semaphore(share.concurrency) if share.concurrency else None
        tasks = []

        async def send(payload: dict[str, Any], due: float) -> None:
            if limit is None:
                await self.one(payload, due)
                return
            async with limit:
                await self.one(payload, max(due, _clock()))

        for payload, offset in zip(share.payloads, share.offsets or [], strict=True):
            delay = t0 + offset - _clock()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(send(payload, t0 + offset)))
        await asyncio.gather(*tasks)


async def _probe(counts: dict[int, int], late_wakes: list[tuple[float, float]]) -> None:
    while True:
        expected = _clock() + PROBE_S
        await asyncio.sleep(PROBE_S)
        now = _clock()
        late = max(0.0, now - expected)
        micros = round(late * 1e6)
        counts[micros] = counts.get(micros, 0) + 1
        if late > LATE_S:
            late_wakes.append((now, late))


async def run_share(share: Share, ready=None) -> ShareResult:
    """Wait at ``ready`` (a barrier, or None) or until ``share.start_at``, then send this share
    and time it."""
    async with stream_client(share.timeout_s) as client:
        runner = _Runner(share, client)
        if ready is not None:
            await asyncio.get_running_loop().run_in_executor(None, ready)
        if share.start_at is not None:
            await asyncio.sleep(max(0.0, share.start_at - time.time()))
        result = runner.result
        probe = asyncio.ensure_future(_probe(result.loop_lag_us, result.late_wakes))
        gc.collect()
        gc.disable()  # a full collection mid-level stalls the loop (and every stamp) for ms
        cpu0, t0 = _cpu(), _clock()
        result.clock_offset = time.time() - t0
        try:
            if share.offsets is None:
                await runner.closed_loop(t0)
            else:
                await runner.scheduled(t0)
        finally:
            gc.enable()
            probe.cancel()
        runner.result.cpu_s, runner.result.wall_s = _cpu() - cpu0, _clock() - t0
        return runner.result
