"""The post's method, made rigorous: N fixed-length streamed runs, stored as they finish."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from servelab import __version__, metrics
from servelab.bench.regimes import detect_regimes
from servelab.bench.serverfigure import window_decode_tps
from servelab.bench.specmetrics import fetch_metrics, parse_spec_counters, spec_delta
from servelab.bench.stats import summarize
from servelab.bench.validity import assess, bench_verdict
from servelab.client import stream_client, stream_run
from servelab.engines import Engine, get_engine
from servelab.engines.base import fixed_length_fields
from servelab.errors import RunFailed
from servelab.options import DEFAULTS
from servelab.recipe import Recipe
from servelab.records import BenchResult, Provenance, RunRecord, SpecStats
from servelab.workloads import Workload, with_depth

RunHook = Callable[[RunRecord], None]


@dataclass
class BenchOptions:
    """What to measure."""

    runs: int = DEFAULTS.runs
    tokens: int = DEFAULTS.tokens
    keep_cold: bool = False
    concurrency: list[int] = field(default_factory=list)
    depth: int = 0
    timeout_s: float = 600.0
    temperature: float = 0.0
    api_key: str | None = None
    load: Any = None  # a servelab.load.bench.LoadPlan: sustained levels after the runs


@dataclass
class Target:
    """The endpoint under test and what is known about it."""

    url: str
    model: str
    engine: Engine | None
    engine_version: str | None
    stack: str
    stack_version: str
    recipe: dict[str, Any] | None = None
    recipe_hash: str | None = None
    k: int | None = None
    gpu: list[dict[str, Any]] | None = None  # the GPUs the server occupies; None: unknown
    roofline_tps: float | None = None  # the plan's decode ceiling on those GPUs, when known


def target_for_recipe(recipe: Recipe, endpoint) -> Target:
    """The bench target for a recipe served at ``endpoint`` (a launch.Endpoint)."""
    spec = recipe.speculative
    engine = get_engine(recipe.engine.name)
    gpus = engine.gpus_serving(recipe)
    return Target(
        url=endpoint.url,
        model=endpoint.model,
        engine=engine,
        engine_version=endpoint.engine_version,
        stack=recipe.name,
        stack_version=recipe.version,
        recipe=endpoint.recipe,
        recipe_hash=recipe.hash,
        k=spec.num_speculative_tokens if spec else None,
        gpu=gpus,
        roofline_tps=roofline_for(recipe, gpus),
    )


def roofline_for(recipe: Recipe, gpus: list[dict[str, Any]]) -> float | None:
    """The plan's decode ceiling on the recipe's first GPU (every draft accepted, the most a
    speculative stack can reach); None without a known GPU or model facts."""
    if not gpus or not gpus[0].get("name"):
        return None
    from servelab.plan.build import build_plan

    try:
        plan = build_plan(recipe, gpu=str(gpus[0]["name"]), acceptance=1.0)
    except Exception:  # no facts, no bandwidth: no ceiling, never a failed bench
        return None
    return plan.get("roofline_tps")


def _gpus(target: Target) -> list[dict[str, Any]]:
    """The GPUs behind the target: those the recipe's server occupies, else every one here."""
    if target.gpu is not None:
        return target.gpu
    from servelab.gpu import detect_gpus

    return detect_gpus()


def provenance(target: Target, workload: Workload, options: BenchOptions) -> Provenance:
    return Provenance(
        stack=target.stack,
        stack_version=target.stack_version,
        recipe_hash=target.recipe_hash,
        recipe=target.recipe,
        endpoint=target.url,
        model=target.model,
        engine=target.engine.name if target.engine else None,
        engine_version=target.engine_version,
        gpu=_gpus(target),
        host=socket.gethostname(),
        servelab_version=__version__,
        workload_id=workload.id,
        workload_hash=workload.hash,
        tokens=options.tokens,
        depth=options.depth,
    )


def payload_for(target: Target, workload: Workload, options: BenchOptions) -> dict[str, Any]:
    fields = fixed_length_fields(target.engine, options.tokens)
    return {
        "model": target.model,
        "messages": workload.messages,
        "temperature": options.temperature,
        **fields,
    }


class Bench:
    """One bench: runs sequentially, then optional concurrency levels; stores every run."""

    def __init__(
        self,
        target: Target,
        workload: Workload,
        options: BenchOptions,
        store,
        on_run: RunHook | None = None,
    ):
        self.target = target
        self.options = options
        self.store = store
        self.on_run = on_run
        self.workload = workload
        self.result = BenchResult(
            provenance=provenance(target, workload, options), started_at=time.time()
        )
        self._timings: list[tuple[int, int]] = []

    # --- helpers ------------------------------------------------------------------------------
    def _scrape(self) -> str | None:
        """The server's /metrics text (None: no engine known or none exposed)."""
        if self.target.engine is None:
            return None
        return fetch_metrics(self.target.url, api_key=self.options.api_key)

    def _counters(self, text: str | None = None):
        text = text if text is not None else self._scrape()
        if text is None:
            return None
        return parse_spec_counters(text, self.target.engine.spec_counter_names())

    def _decode_names(self) -> dict[str, str] | None:
        engine = self.target.engine
        return engine.decode_metric_names() if engine is not None else None

    def _window_scrape(self) -> str | None:
        """/metrics for the per-run server figure, where the engine exposes one (else None)."""
        if self._decode_names() is None:
            return None
        try:
            return self._scrape()
        except RunFailed:
            return None

    def _assessed(self, run: RunRecord, before: str | None, after: str | None) -> RunRecord:
        """The server's own figure (response record, else the /metrics window) and validity."""
        if run.ok and run.server_decode_tps is None:
            run.server_decode_tps = window_decode_tps(before, after, self._decode_names())
            run.server_source = "metrics" if run.server_decode_tps is not None else None
        return assess(run, self.target.roofline_tps)

    def _keep(self, run: RunRecord) -> None:
        self.result.runs.append(run)
        if self.store is not None and self.result.id is not None:
            self.store.add_run(self.result.id, run)
        if self.on_run:
            self.on_run(run)

    def _aggregated(self) -> list[RunRecord]:
        """Sequential ok runs of the window (the cold one only when kept): speculation's runs."""
        return [
            run
            for run in self.result.runs
            if run.concurrency == 1 and run.ok and (self.options.keep_cold or not run.cold)
        ]

    # --- phases -------------------------------------------------------------------------------
    async def _sequential(self, payload: dict[str, Any]) -> tuple[Any, Any]:
        opts = self.options
        before = None
        text = self._window_scrape()
        async with stream_client() as client:
            for index in range(1, opts.runs + 1):
                if index == 1 and opts.keep_cold:
                    before = self._counters(text)
                run = await stream_run(
                    client,
                    self.target.url,
                    payload,
                    timeout_s=opts.timeout_s,
                    api_key=opts.api_key,
                )
                after_text = self._window_scrape()
                run.index = index
                run.cold = index == 1
                self._keep(self._assessed(run, text, after_text))
                text = after_text
                if index == 1 and not opts.keep_cold:
                    before = self._counters(text)
        after = self._counters(text)
        return before, after

    def _spec(self, before, after) -> SpecStats | None:
        kept = self._aggregated()
        drafted = [run.drafted for run in kept if run.drafted is not None]
        accepted = [run.accepted for run in kept if run.accepted is not None]
        spec = None
        if before is not None and after is not None and after.present:
            spec = spec_delta(before, after, k=self.target.k)
            if not spec.drafted:
                spec = None if not drafted else spec
        if drafted:
            if spec is None:
                total_d, total_a = sum(drafted), sum(accepted)
                alpha = metrics.acceptance_rate(total_a, total_d)
                estimate = metrics.tokens_per_step_estimate(alpha, self.target.k)
                spec = SpecStats(
                    drafted=total_d,
                    accepted=total_a,
                    acceptance_rate=alpha,
                    k=self.target.k,
                    estimated_tokens_per_step=estimate,
                    source="timings",
                )
            spec.timings_drafted = sum(drafted)
            spec.timings_accepted = sum(accepted)
        return spec

    def _load(self, workload: Workload) -> None:
        """The load levels, each kept (and stored) as it finishes; never in the headline."""
        from servelab.load.bench import run_load
        from servelab.load.compat import concurrency_levels

        def keep(load) -> None:
            self.result.load = load
            self.result.concurrency = concurrency_levels(load)
            if self.store is not None and self.result.id is not None:
                self.store.save_load(self.result.id, load)

        run_load(
            self.target,
            self.options.load,
            workload.messages,
            api_key=self.options.api_key,
            timeout_s=self.options.timeout_s,
            temperature=self.options.temperature,
            on_level=keep,
        )

    def finish(self, status: str, before=None, after=None) -> BenchResult:
        kept = [run for run in self.result.runs if run.counted(self.options.keep_cold)]
        values = [run.decode_tps for run in kept]
        result = self.result
        if status == "complete":
            load_ok = sum(level.ok for level in result.load.levels) if result.load else None
            status, result.reason = bench_verdict(result.runs, load_ok)
        result.summary = summarize(values)
        result.regimes = detect_regimes(values, [run.index for run in kept])
        result.spec = self._spec(before, after)
        result.status = status
        result.finished_at = time.time()
        if self.store is not None and result.id is not None:
            self.store.finish_bench(
                result.id,
                summary=result.summary,
                spec=result.spec,
                regimes=result.regimes,
                concurrency=result.concurrency,
                status=status,
                reason=result.reason,
            )
        return result

    def run(self) -> BenchResult:
        """Measure; an interruption (Ctrl-C) keeps and marks what was finished."""
        if self.store is not None:
            self.result.id = self.store.begin_bench(self.result)
        workload = self.workload
        if self.options.depth:
            workload = with_depth(
                workload,
                self.options.depth,
                self.target.url,
                self.target.model,
                api_key=self.options.api_key,
            )
        payload = payload_for(self.target, workload, self.options)
        before = after = None
        try:
            before, after = asyncio.run(self._sequential(payload))
            if self.options.load is not None:
                self._load(workload)
        except KeyboardInterrupt:
            self.finish("interrupted", before, after)
            raise
        except BaseException:
            self.finish("failed", before, after)
            raise
        return self.finish("complete", before, after)
