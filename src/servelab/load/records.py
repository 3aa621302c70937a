"""The ``load`` section of a bench: one record per load level, as the JSON contract names it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SLO_KEYS = ("ttft_ms", "tpot_ms", "e2el_ms")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Distribution(_Record):
    """One latency distribution over a level's successful requests (ms; population σ)."""

    mean: float
    std: float
    p50: float
    p90: float
    p95: float
    p99: float


class ServerFigures(_Record):
    """The server's own figures over the level's window (counter deltas or its responses)."""

    source: str | None = Field(None, description="metrics, timings, or None (none exposed).")
    generated_tokens: float | None = Field(None, description="Δ generated-token counter.")
    output_tps: float | None = Field(None, description="Δ generated tokens / level duration.")
    decode_tps: float | None = Field(None, description="Mean per-request decode t/s (engine).")
    note: str | None = None


class ClientFigures(_Record):
    """How hard the client worked and how late it was."""

    processes: int
    fanout: str | None = Field(None, description="'ray (ADDRESS)' when Ray tasks generated it.")
    cpu_pct: float = Field(description="Σ client CPU s / (wall s × processes) × 100.")
    cpu_pct_max: float = Field(description="The busiest client process's CPU %.")
    send_lag_ms: dict[str, float | None] = Field(description="Actual − due send time, p50/p99.")
    loop_lag_ms: dict[str, float | None] = Field(description="Event-loop wake-up delay, p50/p99.")
    stamp_error_pct: dict[str, float | None] | None = Field(
        None, description="Largest TTFT / TPOT error bound of any ok request (load/stamps.py)."
    )
    figure_error_pct: dict[str, dict[str, float | None]] | None = Field(
        None,
        description="Per reported TTFT / TPOT figure (mean, p50–p99), the most it can be off, %, "
        "stamp resolution included (load/figure_bounds.py).",
    )
    figure_late_pct: dict[str, dict[str, float | None]] | None = Field(
        None, description="The same from the client's seen lateness alone: what marks a level."
    )
    stamp_resolution_ms: float | None = Field(
        None, description="Lateness every stamp is allowed (a busy spell the probe cannot see)."
    )
    achieved_rate: float | None = Field(None, description="(n − 1) / (last send − first send).")
    interarrival_cv: float | None = Field(None, description="σ / mean of the send gaps.")


class LoadLevel(_Record):
    """One sustained load level (the keys of ``load.levels[]``)."""

    mode: str = Field(
        description="concurrency, poisson, gamma, constant or trace (a dataset's timestamps)."
    )
    max_concurrency: int | None = None
    request_rate: float | None = None
    requests: int
    ok: int
    duration_s: float = Field(description="Last response end − first request sent.")
    output_tps: float | None = Field(None, description="Σ output tokens (ok) / duration_s.")
    request_tps: float | None = Field(None, description="ok requests / duration_s.")
    max_in_flight: int = Field(description="Most requests in flight at once (observed).")
    ttft_ms: Distribution | None = None
    tpot_ms: Distribution | None = None
    itl_ms: Distribution | None = None
    e2el_ms: Distribution | None = None
    goodput_rps: float | None = Field(None, description="Requests meeting every SLO / duration.")
    server: ServerFigures | None = None
    client: ClientFigures | None = None
    unreliable: str | None = Field(None, description="Why the client's figures can't be trusted.")
    errors: list[str] = Field(default_factory=list, description="Distinct failure reasons.")
    label: str | None = Field(None, description="Sweep role: synchronous, throughput, rate.")
    histograms: dict[str, str] = Field(
        default_factory=dict, description="HdrHistogram encodings (µs) to merge levels later."
    )


class LoadResult(_Record):
    """Every load level of one bench, what was sent and the SLOs it was judged against."""

    workload: dict[str, Any] = Field(default_factory=dict)
    slo: dict[str, float] | None = None
    saturation_rps: float | None = Field(None, description="Highest request_tps among levels.")
    saturation_output_tps: float | None = Field(None, description="Highest output_tps.")
    levels: list[LoadLevel] = Field(default_factory=list)
