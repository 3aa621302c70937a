"""A bench's load phase: build the prompts once, run each level (or the sweep), keep each level
as it finishes (``on_level``), and name the saturation throughput among the reliable levels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from servelab.load import prompts, sweep
from servelab.load.levels import Client, default_prompts, run_level
from servelab.load.plan import LevelSpec, LoadPlan
from servelab.load.records import LoadLevel, LoadResult
from servelab.load.schedule import achieved_rate
from servelab.load.tokens import Counter, local_counter, server_counter

LevelHook = Callable[[LoadResult], None]


def _counter(plan: LoadPlan, target) -> Counter | None:
    if plan.tokenizer:
        return local_counter(plan.tokenizer)
    if plan.workload.kind in ("synthetic", "sharegpt"):
        return server_counter(target.engine, target.url, target.model, None)
    return None


def saturation(levels: list[LoadLevel]) -> tuple[float | None, float | None]:
    """Highest request/s and output t/s among reliable levels (unreliable ones never rank)."""
    good = [level for level in levels if not level.unreliable and level.ok]
    rps = max((level.request_tps or 0.0 for level in good), default=None)
    tps = max((level.output_tps or 0.0 for level in good), default=None)
    return rps or None, tps or None


def run_load(
    target,
    plan: LoadPlan,
    fixed_messages: list[dict[str, Any]],
    *,
    api_key: str | None,
    timeout_s: float,
    temperature: float = 0.0,
    on_level: LevelHook | None = None,
) -> LoadResult:
    """Measure every level of ``plan`` against ``target`` (a bench runner Target)."""
    result = LoadResult(workload=plan.workload.describe(), slo=plan.slo)
    client = Client(
        url=target.url,
        engine=target.engine,
        api_key=api_key,
        timeout_s=timeout_s,
        processes=plan.processes,
        warmup=plan.warmup,
        ray_address=plan.ray_address,
    )
    counter = _counter(plan, target)
    pool: dict[int, list[dict[str, Any]]] = {}

    def payloads_for(count: int) -> list[dict[str, Any]]:
        if count not in pool:
            requests = prompts.requests_for(plan.workload, fixed_messages, count, counter)
            pool[count] = prompts.payloads(requests, target.model, target.engine, temperature)
        return pool[count]

    def measure(spec: LevelSpec) -> LoadLevel:
        spec.num_prompts = spec.num_prompts or plan.num_prompts
        if spec.mode == "trace":
            requests = prompts.trace(plan.workload, spec.num_prompts)
            times = [request.at_s or 0.0 for request in requests]
            spec.request_rate = achieved_rate(times)
            chosen = prompts.payloads(requests, target.model, target.engine, temperature)
            level, _ = run_level(spec, chosen, client, plan.slo, times)
        else:
            count = spec.num_prompts or default_prompts(spec)
            level, _ = run_level(spec, payloads_for(count), client, plan.slo)
        result.levels.append(level)
        result.saturation_rps, result.saturation_output_tps = saturation(result.levels)
        if on_level is not None:
            on_level(result)
        return level

    if plan.sweep_rates is not None:
        sweep.run_sweep(measure, plan.sweep_rates, plan.sweep_concurrency, plan.num_prompts)
    for spec in plan.levels:
        measure(spec)
    return result
