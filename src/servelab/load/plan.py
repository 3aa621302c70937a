"""What a load bench offers: its levels (or sweep), prompts, SLOs and client (no heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass, field

from servelab.load.prompts import LoadWorkload

DEFAULT_THROUGHPUT_CONCURRENCY = 32


@dataclass
class LevelSpec:
    """What one level offers."""

    mode: str  # concurrency, poisson, gamma, constant or trace (the dataset's timestamps)
    max_concurrency: int | None = None
    request_rate: float | None = None
    num_prompts: int | None = None
    duration_s: float | None = None
    burstiness: float = 1.0
    label: str | None = None
    seed: int = 0


@dataclass
class LoadPlan:
    """Every load level of a bench and how they are sent."""

    levels: list[LevelSpec] = field(default_factory=list)
    sweep_rates: int | None = None  # K rates of a sweep; None: no sweep
    sweep_concurrency: int = DEFAULT_THROUGHPUT_CONCURRENCY
    num_prompts: int | None = None
    workload: LoadWorkload = field(default_factory=LoadWorkload)
    slo: dict[str, float] | None = None
    processes: int = 0
    warmup: int | None = None
    tokenizer: str | None = None
    ray_address: str | None = None
