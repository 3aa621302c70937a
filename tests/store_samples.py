"""Results to store in tests: the post's run tables and a bench with every field set."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text

from servelab.load.records import (
    ClientFigures,
    Distribution,
    LoadLevel,
    LoadResult,
    ServerFigures,
)
from servelab.records import (
    BenchResult,
    CheckResult,
    Cluster,
    ConcurrencyLevel,
    Provenance,
    Regimes,
    RunRecord,
    SpecStats,
    Summary,
)

# The post's first table (10 runs, 2500 tokens) and its second (cold first run, 128K context).
POST_TABLE_1 = [250.35, 250.87, 252.97, 252.14, 249.51, 247.84, 252.48, 249.61, 248.61, 251.10]
POST_TABLE_2_COLD = 212.41
POST_TABLE_2 = [254.39, 251.89, 252.42, 250.74, 247.27, 249.58, 251.14, 253.27, 246.53]
# A made-up series around the post's v1.0.0 baseline (135.97 t/s).
BASELINE_SERIES = [135.12, 136.40, 135.88, 136.95, 135.31, 136.22, 135.67, 136.58, 135.49, 136.08]


def recipe_dict(name: str, version: str, *, spec: bool = True, context: int = 131072) -> dict:
    return {
        "name": name,
        "version": version,
        "engine": {"name": "vllm", "version": "0.21.0", "image": "vllm/vllm-openai:v0.21.0"},
        "model": {"id": "org/model-awq"},
        "speculative": (
            {"method": "gemma4_mtp", "model": {"id": "org/drafter"}, "num_speculative_tokens": 3}
            if spec
            else None
        ),
        "context": {"max_model_len": context, "kv_cache_dtype": "fp8"},
    }


def full_run(
    index: int, decode_tps: float, *, cold: bool = False, concurrency: int = 1
) -> RunRecord:
    """A run with every field set to a non-default value."""
    return RunRecord(
        index=index,
        cold=cold,
        ok=True,
        error="short by 0 tokens" if cold else "none",
        output_tokens=2500,
        prompt_tokens=48 + index,
        ttft_s=0.031 + index / 1000,
        decode_tps=decode_tps,
        e2e_tps=decode_tps * 0.99,
        chunks=830 + index,
        duration_s=2500 / decode_tps + 0.031,
        started_at=1_700_000_000.5 + index * 11,
        concurrency=concurrency,
        drafted=2999 + index,
        accepted=2592 + index,
        engine_timings={"predicted_n": 2500, "predicted_ms": 9978.25, "nested": {"a": [1, 2.5]}},
        response_id=f"chatcmpl-{index}",
        valid=not cold,
        invalid_reason="burst (held at start): sample evidence" if cold else None,
        reads=820 + index,
        first_read_chunks=1,
        max_read_chunks=2,
        stamp_slack=(0.00025, 0.0125, 0.0, 0.0),
        server_decode_tps=decode_tps * 1.001,
        server_source="response",
    )


def full_bench(
    stack: str = "gemma4-26b-a4b-vision-mtp",
    version: str = "1.0.5",
    values: list[float] | None = None,
    *,
    cold: float | None = None,
    gpu: str | None = "NVIDIA H100 80GB HBM3",
    started_at: float = 1_700_000_000.0,
    spec: bool = True,
    context: int = 131072,
) -> BenchResult:
    """A complete bench with every field of every record set (round-trip material)."""
    values = POST_TABLE_1 if values is None else values
    runs = [full_run(1, cold, cold=True)] if cold is not None else []
    runs += [full_run(len(runs) + i + 1, value) for i, value in enumerate(values)]
    if values:
        runs.append(full_run(1, values[0] / 2, concurrency=4))  # a concurrency-level sample
    mean = sum(values) / len(values)
    return BenchResult(
        id=None,
        provenance=Provenance(
            stack=stack,
            stack_version=version,
            recipe_hash="0123456789abcdef",
            recipe=recipe_dict(stack, version, spec=spec, context=context),
            endpoint="http://127.0.0.1:8000",
            model="org/model-awq",
            engine="vllm",
            engine_version="0.21.0",
            gpu=[{"name": gpu, "memory_gib": 79.6, "driver": "550.54"}] if gpu else [],
            host="bench-host",
            servelab_version="0.1.0",
            workload_id="space-invaders",
            workload_hash="feedface",
            tokens=2500,
            depth=3,
            context=context,
        ),
        started_at=started_at,
        finished_at=started_at + 120.5,
        status="complete",
        reason="round-trip sample (a complete bench normally has none)",
        runs=runs,
        summary=Summary(
            n=len(values),
            mean=mean,
            median=sorted(values)[len(values) // 2],
            min=min(values),
            max=max(values),
            range=max(values) - min(values),
            stdev=1.687,
            ci95=[mean - 1.2, mean + 1.2],
            cv=0.0067,
        ),
        spec=SpecStats(
            drafts=9999.0,
            drafted=29997.0,
            accepted=25920.0,
            acceptance_rate=25920 / 29997,
            mean_acceptance_length=1 + 25920 / 9999,
            per_position=[0.95, 0.87, 0.77],
            k=3,
            estimated_tokens_per_step=1 + 3 * 25920 / 29997,
            source="metrics",
            timings_drafted=29990,
            timings_accepted=25900,
        ),
        regimes=Regimes(
            bimodal=True,
            clusters=[Cluster(mean=220.0, runs=[1, 2, 3]), Cluster(mean=60.0, runs=[4, 5])],
            pattern="FFFSS",
            note="5 fast, 4 slow",
        ),
        concurrency=[
            ConcurrencyLevel(
                concurrency=4,
                requests=8,
                ok=8,
                aggregate_tps=610.5,
                per_user_decode_tps=152.6,
                ttft_p50_s=0.05,
                ttft_p99_s=0.09,
            )
        ],
        reported=False,
        source="measured here",
    )


def sample_load() -> LoadResult:
    """A load section with every field off its default."""
    dist = Distribution(mean=10.0, std=1.0, p50=9.9, p90=11.0, p95=11.5, p99=12.5)
    level = LoadLevel(
        mode="poisson",
        max_concurrency=32,
        request_rate=4.5,
        requests=45,
        ok=44,
        duration_s=10.2,
        output_tps=880.0,
        request_tps=4.31,
        max_in_flight=9,
        ttft_ms=dist,
        tpot_ms=dist,
        itl_ms=dist,
        e2el_ms=dist,
        goodput_rps=4.0,
        server=ServerFigures(
            source="metrics",
            generated_tokens=8800.0,
            output_tps=862.7,
            decode_tps=101.0,
            note="decode rate from timings",
        ),
        client=ClientFigures(
            processes=2,
            cpu_pct=12.0,
            cpu_pct_max=14.0,
            send_lag_ms={"p50": 0.1, "p99": 0.9},
            loop_lag_ms={"p50": 0.05, "p99": 0.4},
            stamp_error_pct={"ttft": 0.8, "tpot": 0.07},
            achieved_rate=4.4,
            interarrival_cv=0.97,
        ),
        unreliable="client CPU pegged (95 % ≥ 90 %)",
        errors=["HTTP 500: boom"],
        label="rate",
        histograms={"ttft_ms": "HISTFAAAA"},
    )
    return LoadResult(
        workload={"kind": "synthetic", "input_len": 128},
        slo={"ttft_ms": 500.0},
        saturation_rps=4.31,
        saturation_output_tps=880.0,
        levels=[level],
    )


def passed(name: str, ok: bool = True) -> CheckResult:
    return CheckResult(
        name=name,
        passed=ok,
        detail=f"{name} {'passed' if ok else 'failed'}",
        evidence=[{"request": "What color is this image?", "answer": "Red" if ok else "Blue"}],
    )


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new database on the SERVELAB_TEST_PG server (dropped afterwards); skip when unset."""
    server = os.environ.get("SERVELAB_TEST_PG")
    if not server:
        pytest.skip("SERVELAB_TEST_PG is not set (scripts/pg-test-server.sh start prints one)")
    admin_url = server.replace("postgresql://", "postgresql+psycopg://", 1)
    name = f"servelab_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
